using Soma.Cli;
using Soma.Internal;

namespace Soma.Tests.IO;

/// <summary>`soma ptx` in-process: every kernel of the one kernel list compiles to PTX without a GPU.</summary>
public sealed class PtxCliTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("soma-ptx-").FullName;

    [Fact]
    public void Ptx_WritesAnEntryPointPerKernel_ForSm90()
    {
        var output = new StringWriter();
        var error = new StringWriter();

        int rc = SomaCli.Invoke(new[] { "ptx", "--out", folder, "--sm", "90" }, output, error);

        error.ToString().Should().BeEmpty();
        rc.Should().Be(0);
        KernelCatalog.All.Should().HaveCount(KernelSet.Count).And.OnlyHaveUniqueItems(e => e.Name);
        KernelCatalog.Variants.Should().OnlyHaveUniqueItems(e => e.Name).And.HaveCount(59, "qkv and qkv-gemv in 3 x 3 storage pairs each, qkv-reduce, attention, attention-decode, linear and linear-gemv in 3 each, 5 kernels that touch no stored element, 11 whole-model kernels in fp32 and the 5 that read a weight (row-gather, gate-up, gate-up-gemv, down, down-gemv) in f16 and bf16")
            .And.Contain(e => e.Name == "qkv-wbf16-rf16").And.Contain(e => e.Name == "qkv-gemv-wf16-rbf16").And.Contain(e => e.Name == "linear-gemv-wbf16").And.Contain(e => e.Name == "attention-rbf16").And.Contain(e => e.Name == "attention-decode-rf16").And.Contain(e => e.Name == "linear-wf16");
        Directory.GetFiles(folder, "*.ptx").Should().HaveCount(KernelCatalog.Variants.Count);
        foreach (var kernel in KernelCatalog.Variants)
        {
            string ptx = File.ReadAllText(Path.Combine(folder, kernel.Name + ".ptx"));
            ptx.Should().Contain($".entry Kernel_{kernel.Kernel.Method.Name}(", $"{kernel.Name}.ptx holds that kernel")
                .And.Contain(".address_size 64");
        }

        File.ReadAllText(Path.Combine(folder, "attention-decode.ptx")).Should().Contain("ld.global.v4.f32", "the split-KV decode attention reads fp32 key and value rows in 128-bit quads")
            .And.Contain("shfl.sync.bfly").And.Contain("atom.add.global").And.NotContain(".local");
        File.ReadAllText(Path.Combine(folder, "attention-decode-rbf16.ptx")).Should().Contain("ld.global.b64", "16-bit rows are read in 64-bit quads");
        output.ToString().Should().Contain($"{KernelCatalog.Variants.Count} kernels compiled to PTX for sm_90 at O2");
    }

    [Fact]
    public void Ptx_RejectsAnUnknownArchitectureAndLevel_InOneLine()
    {
        var error = new StringWriter();
        int rcSm = SomaCli.Invoke(new[] { "ptx", "--out", folder, "--sm", "91" }, TextWriter.Null, error);
        int rcLevel = SomaCli.Invoke(new[] { "ptx", "--out", folder, "--optimization", "O3" }, TextWriter.Null, error);

        (rcSm, rcLevel).Should().Be((2, 2));
        error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().SatisfyRespectively(
            sm => sm.Should().StartWith("error: --sm: compute capability 91"),
            level => level.Should().StartWith("error: --optimization must be O0, O1 or O2"));
        Directory.GetFiles(folder).Should().BeEmpty();
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
