using Soma.Tests.Infrastructure;
using Soma.Tests.Suites;

// The shared suites (Suites/*Suite.cs), bound once per accelerator, so every test's name says where it ran:
// Soma.Tests.Cpu.IdentityTests always runs; Soma.Tests.Cuda.* and Soma.Tests.OpenCL.* run when that device is
// present and are listed as skipped, with the reason, when it is not (AcceleratorTestFramework decides at discovery;
// SOMA_TEST_ACCELERATOR=cuda turns a missing device into failures, see AcceleratorAvailability). Each fixture checks
// that its engine really runs on its accelerator, so a CUDA-named test never runs on the CPU.
//
// To bind a new suite XSuite (constructor taking an AcceleratorFixture), add the same one line to each block below,
// changing only the accelerator's collection and fixture:
//     [Collection(CpuCollection.Name)] public sealed class XTests(CpuFixture fixture) : XSuite(fixture);

namespace Soma.Tests.Cpu
{
    [Collection(CpuCollection.Name)] public sealed class IdentityTests(CpuFixture fixture) : IdentitySuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class WindowTests(CpuFixture fixture) : WindowSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class ReferenceTests(CpuFixture fixture) : ReferenceSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class ConsistencyTests(CpuFixture fixture) : ConsistencySuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class BadInputTests(CpuFixture fixture) : BadInputSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class LifetimeTests(CpuFixture fixture) : LifetimeSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class KernelTests(CpuFixture fixture) : KernelSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class StandardAttentionTests(CpuFixture fixture) : StandardAttentionSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class SnapshotTests(CpuFixture fixture) : SnapshotSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class BatchTests(CpuFixture fixture) : BatchSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class ConcurrencyTests(CpuFixture fixture) : ConcurrencySuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class ModelTests(CpuFixture fixture) : ModelSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class RaceTests(CpuFixture fixture) : RaceSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class DestinationTests(CpuFixture fixture) : DestinationSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class DisposedEngineTests(CpuFixture fixture) : DisposedEngineSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class FiniteInputTests(CpuFixture fixture) : FiniteInputSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class LoggingTests(CpuFixture fixture) : LoggingSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class HostileSnapshotTests(CpuFixture fixture) : HostileSnapshotSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class CommitSaveTests(CpuFixture fixture) : CommitSaveSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class ModelSnapshotTests(CpuFixture fixture) : ModelSnapshotSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class LiveDescriptionTests(CpuFixture fixture) : LiveDescriptionSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class ProfileTests(CpuFixture fixture) : ProfileSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class CausalLMTests(CpuFixture fixture) : CausalLMSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class StorageTests(CpuFixture fixture) : StorageSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class DeviceIoTests(CpuFixture fixture) : DeviceIoSuite(fixture);
    [Collection(CpuCollection.Name)] public sealed class SteadyStateTests(CpuFixture fixture) : SteadyStateSuite(fixture);
}

namespace Soma.Tests.Cuda
{
    [Collection(CudaCollection.Name)] public sealed class IdentityTests(CudaFixture fixture) : IdentitySuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class WindowTests(CudaFixture fixture) : WindowSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class ReferenceTests(CudaFixture fixture) : ReferenceSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class ConsistencyTests(CudaFixture fixture) : ConsistencySuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class BadInputTests(CudaFixture fixture) : BadInputSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class LifetimeTests(CudaFixture fixture) : LifetimeSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class KernelTests(CudaFixture fixture) : KernelSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class StandardAttentionTests(CudaFixture fixture) : StandardAttentionSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class SnapshotTests(CudaFixture fixture) : SnapshotSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class BatchTests(CudaFixture fixture) : BatchSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class ConcurrencyTests(CudaFixture fixture) : ConcurrencySuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class ModelTests(CudaFixture fixture) : ModelSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class RaceTests(CudaFixture fixture) : RaceSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class DestinationTests(CudaFixture fixture) : DestinationSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class DisposedEngineTests(CudaFixture fixture) : DisposedEngineSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class FiniteInputTests(CudaFixture fixture) : FiniteInputSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class LoggingTests(CudaFixture fixture) : LoggingSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class HostileSnapshotTests(CudaFixture fixture) : HostileSnapshotSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class CommitSaveTests(CudaFixture fixture) : CommitSaveSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class ModelSnapshotTests(CudaFixture fixture) : ModelSnapshotSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class LiveDescriptionTests(CudaFixture fixture) : LiveDescriptionSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class ProfileTests(CudaFixture fixture) : ProfileSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class CausalLMTests(CudaFixture fixture) : CausalLMSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class StorageTests(CudaFixture fixture) : StorageSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class DeviceIoTests(CudaFixture fixture) : DeviceIoSuite(fixture);
    [Collection(CudaCollection.Name)] public sealed class SteadyStateTests(CudaFixture fixture) : SteadyStateSuite(fixture);
}

namespace Soma.Tests.OpenCL
{
    [Collection(OpenClCollection.Name)] public sealed class IdentityTests(OpenClFixture fixture) : IdentitySuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class WindowTests(OpenClFixture fixture) : WindowSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class ReferenceTests(OpenClFixture fixture) : ReferenceSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class ConsistencyTests(OpenClFixture fixture) : ConsistencySuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class BadInputTests(OpenClFixture fixture) : BadInputSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class LifetimeTests(OpenClFixture fixture) : LifetimeSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class KernelTests(OpenClFixture fixture) : KernelSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class StandardAttentionTests(OpenClFixture fixture) : StandardAttentionSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class SnapshotTests(OpenClFixture fixture) : SnapshotSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class BatchTests(OpenClFixture fixture) : BatchSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class ConcurrencyTests(OpenClFixture fixture) : ConcurrencySuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class ModelTests(OpenClFixture fixture) : ModelSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class RaceTests(OpenClFixture fixture) : RaceSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class DestinationTests(OpenClFixture fixture) : DestinationSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class DisposedEngineTests(OpenClFixture fixture) : DisposedEngineSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class FiniteInputTests(OpenClFixture fixture) : FiniteInputSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class LoggingTests(OpenClFixture fixture) : LoggingSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class HostileSnapshotTests(OpenClFixture fixture) : HostileSnapshotSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class CommitSaveTests(OpenClFixture fixture) : CommitSaveSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class ModelSnapshotTests(OpenClFixture fixture) : ModelSnapshotSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class LiveDescriptionTests(OpenClFixture fixture) : LiveDescriptionSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class ProfileTests(OpenClFixture fixture) : ProfileSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class CausalLMTests(OpenClFixture fixture) : CausalLMSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class StorageTests(OpenClFixture fixture) : StorageSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class DeviceIoTests(OpenClFixture fixture) : DeviceIoSuite(fixture);
    [Collection(OpenClCollection.Name)] public sealed class SteadyStateTests(OpenClFixture fixture) : SteadyStateSuite(fixture);
}
