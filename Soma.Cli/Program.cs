using Soma.Cli;

// `soma ARGS` (the .NET tool): see `soma --help`. Soma.Bench runs the same command line with `bdn` and `--plot` added.
return SomaCli.Invoke(args, Console.Out, Console.Error);
