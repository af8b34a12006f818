using Soma;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>Device memory has one owner per buffer, returns to its baseline on every path, and never grows with tokens.</summary>
public abstract class LifetimeSuite
{
    protected LifetimeSuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    [Fact]
    public void DisposingLayersPoolsAndSessions_ReturnsDeviceMemoryToBaseline()
    {
        var o = new SomaLayerOptions(16, 4, 2, 4, window: 6, maxChunkTokens: 4);
        long bytes = Engine.AllocatedBytes;
        long buffers = Engine.AllocatedBuffers;

        using (var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 1)))
        {
            using var session = layer.CreateSession();
            var pool = layer.CreatePool(3);
            var pooled = pool.OpenSession();
            session.Prefill(TestData.Inputs(o.ModelDim, 9, seed: 2)); // chunked: takes and frees a slot backup
            layer.DecodeBatch(new[] { pooled }, TestData.Inputs(o.ModelDim, 1, seed: 3));
            Engine.AllocatedBytes.Should().BeGreaterThan(bytes);
            pooled.Dispose();
            pool.Dispose();
        }

        Engine.AllocatedBytes.Should().Be(bytes);
        Engine.AllocatedBuffers.Should().Be(buffers);
    }

    [Fact]
    public void DisposingALayer_DisposesItsSessionsAndPools()
    {
        var o = new SomaLayerOptions(8, 2, 1, 4, window: 4);
        long bytes = Engine.AllocatedBytes;
        var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 4));
        var session = layer.CreateSession();
        var pool = layer.CreatePool(2);
        pool.OpenSession().Prefill(TestData.Inputs(o.ModelDim, 3, seed: 5));

        layer.Dispose();

        Engine.AllocatedBytes.Should().Be(bytes);
        Action use = () => session.Decode(new float[o.ModelDim]);
        use.Should().Throw<ObjectDisposedException>();
    }

    [Fact]
    public void PoolForABudget_HoldsAsManySessionsAsFit_AndRejectsTooSmallABudget()
    {
        var o = new SomaLayerOptions(8, 2, 1, 4, window: 4);
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 9));
        long before = Engine.AllocatedBytes;

        using (var pool = layer.CreatePoolForBudget(5 * layer.StateBytes / 2))
        {
            pool.Capacity.Should().Be(2);
            (Engine.AllocatedBytes - before).Should().Be(2 * layer.StateBytes, "the pool reserves exactly its sessions' state");
        }

        Action tooSmall = () => layer.CreatePoolForBudget(layer.StateBytes - 1);
        tooSmall.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("budgetBytes").WithMessage($"*{layer.StateBytes} bytes*");
    }

    [Fact]
    public void StateBytes_AreFixed_AndDeviceMemoryDoesNotGrowWithTokens()
    {
        var o = new SomaLayerOptions(16, 4, 2, 4, window: 5, maxChunkTokens: 8);
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 6));
        using var session = layer.CreateSession();
        session.StateBytes.Should().Be(2L * 5 * 2 * 4 * sizeof(float) + 2 * 4 * sizeof(double));
        session.Prefill(TestData.Inputs(o.ModelDim, 8, seed: 7));
        long afterFirst = Engine.AllocatedBytes;

        for (int i = 0; i < 20; i++)
        {
            session.Decode(TestData.Inputs(o.ModelDim, 1, seed: 8 + i));
        }

        session.Prefill(TestData.Inputs(o.ModelDim, 8, seed: 30));
        Engine.AllocatedBytes.Should().Be(afterFirst, "a session's device memory does not depend on tokens consumed");
        session.StateBytes.Should().Be(2L * 5 * 2 * 4 * sizeof(float) + 2 * 4 * sizeof(double));
    }
}
