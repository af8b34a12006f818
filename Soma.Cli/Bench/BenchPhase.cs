using System.Diagnostics;
using Spectre.Console;

namespace Soma.Cli.Bench;

/// <summary>One phase of the benchmark (<see cref="BenchProgress"/>): a bar, or one line `name: done, N steps in S s` when it ends.</summary>
internal sealed class BenchPhase
{
    private readonly string name;
    private readonly ProgressTask? bar;
    private readonly TextWriter? lines;
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private double maxValue;

    public BenchPhase(string name, int units, ProgressTask? bar, TextWriter? lines)
    {
        this.name = name;
        this.bar = bar;
        this.lines = lines;
        maxValue = units;
    }

    /// <summary>How many steps the phase has.</summary>
    public double MaxValue
    {
        get => maxValue;
        set
        {
            maxValue = value;
            if (bar is not null)
            {
                bar.MaxValue = value;
            }
        }
    }

    /// <summary>Counts <paramref name="steps"/> more steps done (the bar moves; the line form only reports the end).</summary>
    public void Increment(double steps) => bar?.Increment(steps);

    /// <summary>Ends the phase: a full bar, or its one line.</summary>
    public void Stop()
    {
        if (bar is not null)
        {
            bar.Value = bar.MaxValue;
            bar.StopTask();
            return;
        }

        lines?.WriteLine(FormattableString.Invariant($"{name}: done, {maxValue:F0} steps in {clock.Elapsed.TotalSeconds:F1} s"));
    }
}
