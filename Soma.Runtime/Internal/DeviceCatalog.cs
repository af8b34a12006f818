using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace Soma.Internal;

/// <summary>The accelerators ILGPU offers, as <see cref="SomaDeviceInfo"/>: context creation, description, lookup.</summary>
internal static class DeviceCatalog
{
    /// <summary>An ILGPU context with the backends <paramref name="kind"/> needs (all three for Auto) and the CPU device shape of <paramref name="options"/>.</summary>
    public static Context CreateContext(SomaEngineOptions options, SomaAcceleratorKind kind) =>
        Context.Create(builder =>
        {
            if (kind is SomaAcceleratorKind.Auto or SomaAcceleratorKind.Cpu)
            {
                builder.CPU(new CPUDevice(options.CpuThreadsPerWarp, options.CpuWarpsPerGroup, options.CpuMultiprocessors));
            }

            if (kind is SomaAcceleratorKind.Auto or SomaAcceleratorKind.Cuda)
            {
                builder.Cuda();
            }

            if (kind is SomaAcceleratorKind.Auto or SomaAcceleratorKind.OpenCL)
            {
                builder.OpenCL();
            }

            KernelCatalog.Configure(builder, KernelCatalog.EngineOptimization);
        });

    /// <summary>Every device of <paramref name="context"/>, described (kind, index within its kind, usability, peak bandwidth).</summary>
    public static List<SomaDeviceInfo> Describe(Context context)
    {
        var result = new List<SomaDeviceInfo>();
        var counts = new Dictionary<SomaAcceleratorKind, int>();
        foreach (var device in context.Devices)
        {
            var kind = device.AcceleratorType switch
            {
                AcceleratorType.Cuda => SomaAcceleratorKind.Cuda,
                AcceleratorType.OpenCL => SomaAcceleratorKind.OpenCL,
                _ => SomaAcceleratorKind.Cpu,
            };
            int index = counts.GetValueOrDefault(kind);
            counts[kind] = index + 1;
            bool usable = true;
            string note = "";
            double? peak = null;
            string processor = device is CPUDevice ? "CPU" : "GPU";
            if (device is CLDevice cl)
            {
                usable = ((CLCapabilityContext)cl.Capabilities).GenericAddressSpace;
                processor = cl.DeviceType == CLDeviceType.CL_DEVICE_TYPE_GPU ? "GPU" : cl.DeviceType == CLDeviceType.CL_DEVICE_TYPE_CPU ? "CPU" : cl.DeviceType.ToString();
                note = usable
                    ? $"OpenCL C {cl.CVersion}; unverified with Soma"
                    : $"OpenCL C {cl.CVersion} without generic address space, which ILGPU's OpenCL backend requires";
            }
            else if (device is CudaDevice cuda)
            {
                note = $"sm_{cuda.Architecture?.Major}{cuda.Architecture?.Minor}";

                // Double data rate: two transfers per memory clock (ILGPU reports MHz) over a bus of MemoryBusWidth bits.
                peak = 2.0 * cuda.MemoryClockRate * 1e6 * cuda.MemoryBusWidth / 8.0;
            }

            result.Add(new SomaDeviceInfo(
                kind, index, device.Name, device.MemorySize, device.WarpSize, device.MaxNumThreadsPerGroup,
                device.NumMultiprocessors, usable, note, processor, peak));
        }

        return result;
    }

    /// <summary>
    /// The description of <paramref name="accelerator"/>'s device, as <see cref="Describe(Context)"/> lists it in its
    /// context (its index among devices of its kind there).
    /// </summary>
    public static SomaDeviceInfo Describe(Accelerator accelerator)
    {
        var all = Describe(accelerator.Context);
        var devices = accelerator.Context.Devices;
        for (int i = 0; i < devices.Length; i++)
        {
            if (ReferenceEquals(devices[i], accelerator.Device))
            {
                return all[i];
            }
        }

        var kind = all.Find(d => d.Name == accelerator.Device.Name && d.WarpSize == accelerator.Device.WarpSize);
        return kind ?? throw new ArgumentException($"The accelerator's device ({accelerator.Device.Name}) is not among its context's devices.", nameof(accelerator));
    }

    /// <summary>The ILGPU device that <paramref name="info"/> describes.</summary>
    public static Device DeviceOf(Context context, SomaDeviceInfo info)
    {
        var type = info.Kind switch
        {
            SomaAcceleratorKind.Cuda => AcceleratorType.Cuda,
            SomaAcceleratorKind.OpenCL => AcceleratorType.OpenCL,
            _ => AcceleratorType.CPU,
        };
        return context.Devices.Where(d => d.AcceleratorType == type).ElementAt(info.Index);
    }
}
