using System.Text.Json.Nodes;
using Soma;
using Soma.Cli;
using Soma.IO;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.IO;

/// <summary>`soma run --state-in` with hostile and foreign state files: one `error:` line and exit 2; version-1 files still load.</summary>
public sealed class SnapshotCliTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("soma-snap-cli-").FullName;

    [Fact]
    public void StateIn_RefusesForgedAndForeignFiles_AndLoadsVersion1Files()
    {
        var o = new SomaLayerOptions(12, 4, 2, 4, window: 3, ropeTheta: 1000.0);
        FakeCheckpoint.Write(folder, new[] { TestData.Weights(o, seed: 500, biases: true), TestData.Weights(o, seed: 501, biases: true) }, sharded: false, halfKey: null);
        string options = Path.Combine(folder, "soma.json");
        File.WriteAllText(options, "{\"window\": 3, \"gamma\": [0.9, 0.5], \"alpha\": 0.25}");
        string x = Path.Combine(folder, "x.npy"), y = Path.Combine(folder, "y.npy"), state = Path.Combine(folder, "s.soma");
        NpyFile.Write(x, TestData.Inputs(12, 4, seed: 502), 4, 12);
        (int Code, string Output, string Error) Run(int layer, params string[] extra)
        {
            var output = new StringWriter();
            var error = new StringWriter();
            var args = new[] { "run", "--model", folder, "--layer", layer.ToString(), "--soma", options, "--input", x, "--output", y, "--accelerator", "cpu" };
            return (SomaCli.Invoke(args.Concat(extra).ToArray(), output, error), output.ToString(), error.ToString());
        }

        Run(1, "--state-out", state).Code.Should().Be(0);
        var saved = File.ReadAllBytes(state);
        var (section, _) = SnapshotForge.ParseAt(saved);
        section.Header["position"] = long.MaxValue;
        string forged = Path.Combine(folder, "forged.soma");
        File.WriteAllBytes(forged, SnapshotForge.Build(section.Header, section.Payload));

        foreach (var (layer, file, message) in new[] { (1, forged, "*position 9223372036854775807*outside*"), (0, state, "*taken from layer 1; this is layer 0*") })
        {
            var (code, _, error) = Run(layer, "--state-in", file);
            code.Should().Be(2, message);
            error.Trim().Split('\n').Should().ContainSingle().Which.Should().StartWith("error: --state-in").And.Match(message);
        }

        // The same state in the version-1 layout of earlier builds continues the sequence the same way.
        using (var checkpoint = HuggingFaceCheckpoint.Open(folder))
        using (var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu)))
        {
            var (lo, lw) = checkpoint.LoadAttentionLayer(1, SomaParameters.Load(options));
            using var layer = engine.CreateLayer(lo, lw);
            using var session = layer.CreateSession();
            session.LoadState(new MemoryStream(saved));
            File.WriteAllBytes(Path.Combine(folder, "v1.soma"), SnapshotForge.Legacy(session));
        }

        var fromV2 = Run(1, "--state-in", state);
        var yFromV2 = NpyFile.Read(y).Data;
        var fromV1 = Run(1, "--state-in", Path.Combine(folder, "v1.soma"));
        (fromV2.Code, fromV1.Code).Should().Be((0, 0));
        NpyFile.Read(y).Data.Should().Equal(yFromV2);
        fromV1.Output.Should().Contain("position 8");
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
