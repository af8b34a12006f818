using Soma.Bench;
using Soma.Bench.Bdn;
using Soma.Cli;

// `dotnet run -c Release --project Soma.Bench -- ARGS`: the `soma` command line (Soma.Cli; see `--help`) with what
// the installed tool leaves out: the BenchmarkDotNet suites (`bdn`) and the decode plot (`--plot`).
return SomaCli.Invoke(args, Console.Out, Console.Error, new CliExtensions(BdnEntry.Run, DecodePlot.Save));
