namespace Soma;

/// <summary>Which ILGPU accelerator an engine opens.</summary>
public enum SomaAcceleratorKind
{
    /// <summary>The best present: CUDA, then OpenCL (devices ILGPU can run on), then the CPU accelerator.</summary>
    Auto,

    /// <summary>ILGPU's CPU accelerator, with the simulated device shape from <see cref="SomaEngineOptions"/>.</summary>
    Cpu,

    /// <summary>An NVIDIA GPU through CUDA.</summary>
    Cuda,

    /// <summary>An OpenCL device (needs OpenCL 2.0 generic address space; unverified until it runs on one).</summary>
    OpenCL,
}
