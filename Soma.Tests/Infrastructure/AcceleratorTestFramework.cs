using System.Reflection;
using Soma;
using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: TestFramework("Soma.Tests.Infrastructure.AcceleratorTestFramework", "Soma.Tests")]

namespace Soma.Tests.Infrastructure;

/// <summary>
/// xunit's own framework, except that the tests of a class in a <see cref="BoundAcceleratorAttribute"/> collection
/// are discovered as skipped, with <see cref="AcceleratorAvailability.SkipReason"/> as the reason, when that
/// accelerator is absent. Skipping at discovery keeps every test (each theory row too) listed under its accelerator's
/// name and counted as skipped, never as passed; the skipped tests' fixture opens no engine.
/// </summary>
public sealed class AcceleratorTestFramework(IMessageSink messageSink) : XunitTestFramework(messageSink)
{
    /// <inheritdoc />
    protected override ITestFrameworkDiscoverer CreateDiscoverer(IAssemblyInfo assemblyInfo) =>
        new Discoverer(assemblyInfo, SourceInformationProvider, DiagnosticMessageSink);

    /// <inheritdoc />
    protected override ITestFrameworkExecutor CreateExecutor(AssemblyName assemblyName) =>
        new Executor(assemblyName, SourceInformationProvider, DiagnosticMessageSink);

    private sealed class Executor(AssemblyName name, ISourceInformationProvider source, IMessageSink sink)
        : XunitTestFrameworkExecutor(name, source, sink)
    {
        protected override ITestFrameworkDiscoverer CreateDiscoverer() =>
            new Discoverer(AssemblyInfo, SourceInformationProvider, DiagnosticMessageSink);
    }

    private sealed class Discoverer : XunitTestFrameworkDiscoverer
    {
        private readonly Lazy<IReadOnlyList<SomaDeviceInfo>> devices = new(() => SomaEngine.ListDevices());
        private readonly Dictionary<SomaAcceleratorKind, string?> reasons = [];

        public Discoverer(IAssemblyInfo assembly, ISourceInformationProvider source, IMessageSink sink)
            : base(assembly, source, sink)
        {
        }

        protected override bool FindTestsForType(
            ITestClass testClass, bool includeSourceInformation, IMessageBus messageBus, ITestFrameworkDiscoveryOptions discoveryOptions)
        {
            var bound = testClass.TestCollection.CollectionDefinition?
                .GetCustomAttributes(typeof(BoundAcceleratorAttribute)).FirstOrDefault();
            var reason = bound is null ? null : ReasonFor(bound.GetConstructorArguments().OfType<SomaAcceleratorKind>().Single());
            if (reason is null)
            {
                return base.FindTestsForType(testClass, includeSourceInformation, messageBus, discoveryOptions);
            }

            using var skipping = new SkippingBus(messageBus, reason, DiagnosticMessageSink, discoveryOptions);
            return base.FindTestsForType(testClass, includeSourceInformation, skipping, discoveryOptions);
        }

        private string? ReasonFor(SomaAcceleratorKind kind)
        {
            lock (reasons)
            {
                if (!reasons.TryGetValue(kind, out var reason))
                {
                    reason = AcceleratorAvailability.SkipReason(
                        kind, Environment.GetEnvironmentVariable(AcceleratorFixture.Variable), () => devices.Value);
                    reasons[kind] = reason;
                }

                return reason;
            }
        }
    }

    /// <summary>Passes discovery messages on, each discovered test case replaced by a skipped one with the same name and arguments.</summary>
    private sealed class SkippingBus(
        IMessageBus inner, string reason, IMessageSink sink, ITestFrameworkDiscoveryOptions options) : IMessageBus
    {
        public bool QueueMessage(IMessageSinkMessage message)
        {
            if (message is ITestCaseDiscoveryMessage { TestCase: XunitTestCase testCase } && testCase is not ExecutionErrorTestCase)
            {
                var skipped = new XunitSkippedDataRowTestCase(
                    sink, options.MethodDisplayOrDefault(), options.MethodDisplayOptionsOrDefault(),
                    testCase.TestMethod, reason, testCase.TestMethodArguments)
                {
                    SourceInformation = testCase.SourceInformation,
                };
                return inner.QueueMessage(new TestCaseDiscoveryMessage(skipped));
            }

            return inner.QueueMessage(message);
        }

        public void Dispose()
        {
            // The inner bus belongs to the caller.
        }
    }
}
