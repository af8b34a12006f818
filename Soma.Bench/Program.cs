using Soma.Bench.Cli;

// `soma` / `dotnet run -c Release --project Soma.Bench -- ARGS`: see `--help`.
return SomaCli.Invoke(args, Console.Out, Console.Error);
