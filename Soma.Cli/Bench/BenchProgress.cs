using Spectre.Console;

namespace Soma.Cli.Bench;

/// <summary>
/// The benchmark's progress: live bars on an interactive terminal; otherwise (a log, a pipe, CI) one line per phase
/// when it ends, so a log holds each phase once, in order, instead of repeated bar frames.
/// </summary>
internal sealed class BenchProgress
{
    private readonly ProgressContext? bars;
    private readonly TextWriter? lines;

    private BenchProgress(ProgressContext? bars, TextWriter? lines)
    {
        this.bars = bars;
        this.lines = lines;
    }

    /// <summary>True when the console shows live bars: an interactive terminal, output not redirected.</summary>
    public static bool Interactive => AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;

    /// <summary>Runs <paramref name="body"/> with bars when <paramref name="interactive"/>, else with one line per phase on <paramref name="lines"/>.</summary>
    public static void Run(bool interactive, TextWriter lines, Action<BenchProgress> body)
    {
        if (!interactive)
        {
            body(new BenchProgress(null, lines));
            return;
        }

        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(context => body(new BenchProgress(context, null)));
    }

    /// <summary>Starts a phase of <paramref name="units"/> steps named <paramref name="name"/>.</summary>
    public BenchPhase Start(string name, int units) => bars is not null
        ? new BenchPhase(name, units, bars.AddTask(name, maxValue: units), null)
        : new BenchPhase(name, units, null, lines);
}
