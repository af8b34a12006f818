using Soma.Tests.Infrastructure;
using Soma.Tests.Suites;

namespace Soma.Tests;

// The shared suites, bound to the accelerator SOMA_TEST_ACCELERATOR names (the CPU accelerator by default).

[Collection(AcceleratorCollection.Name)]
public sealed class IdentityTests(AcceleratorFixture fixture) : IdentitySuite(fixture);

[Collection(AcceleratorCollection.Name)]
public sealed class WindowTests(AcceleratorFixture fixture) : WindowSuite(fixture);

[Collection(AcceleratorCollection.Name)]
public sealed class ReferenceTests(AcceleratorFixture fixture) : ReferenceSuite(fixture);

[Collection(AcceleratorCollection.Name)]
public sealed class ConsistencyTests(AcceleratorFixture fixture) : ConsistencySuite(fixture);

[Collection(AcceleratorCollection.Name)]
public sealed class BadInputTests(AcceleratorFixture fixture) : BadInputSuite(fixture);

[Collection(AcceleratorCollection.Name)]
public sealed class LifetimeTests(AcceleratorFixture fixture) : LifetimeSuite(fixture);

[Collection(AcceleratorCollection.Name)]
public sealed class KernelTests(AcceleratorFixture fixture) : KernelSuite(fixture);

[Collection(AcceleratorCollection.Name)]
public sealed class StandardAttentionTests(AcceleratorFixture fixture) : StandardAttentionSuite(fixture);

[Collection(AcceleratorCollection.Name)]
public sealed class SnapshotTests(AcceleratorFixture fixture) : SnapshotSuite(fixture);

[Collection(AcceleratorCollection.Name)]
public sealed class BatchTests(AcceleratorFixture fixture) : BatchSuite(fixture);

[Collection(AcceleratorCollection.Name)]
public sealed class ConcurrencyTests(AcceleratorFixture fixture) : ConcurrencySuite(fixture);

[Collection(AcceleratorCollection.Name)]
public sealed class ModelTests(AcceleratorFixture fixture) : ModelSuite(fixture);

[Collection(AcceleratorCollection.Name)]
public sealed class RaceTests(AcceleratorFixture fixture) : RaceSuite(fixture);

[Collection(AcceleratorCollection.Name)]
public sealed class DestinationTests(AcceleratorFixture fixture) : DestinationSuite(fixture);

[Collection(AcceleratorCollection.Name)]
public sealed class DisposedEngineTests(AcceleratorFixture fixture) : DisposedEngineSuite(fixture);

[Collection(AcceleratorCollection.Name)]
public sealed class FiniteInputTests(AcceleratorFixture fixture) : FiniteInputSuite(fixture);

[Collection(AcceleratorCollection.Name)]
public sealed class LoggingTests(AcceleratorFixture fixture) : LoggingSuite(fixture);

[Collection(AcceleratorCollection.Name)]
public sealed class HostileSnapshotTests(AcceleratorFixture fixture) : HostileSnapshotSuite(fixture);

[Collection(AcceleratorCollection.Name)]
public sealed class ModelSnapshotTests(AcceleratorFixture fixture) : ModelSnapshotSuite(fixture);
