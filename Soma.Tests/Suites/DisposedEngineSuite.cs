using Soma;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>
/// Using a layer, session, pool or model after its engine was disposed throws <see cref="ObjectDisposedException"/>
/// that names the engine, not the object in hand (which the engine's disposal disposed too).
/// </summary>
public abstract class DisposedEngineSuite
{
    protected DisposedEngineSuite(AcceleratorFixture fixture) => Kind = fixture.Kind;

    protected SomaAcceleratorKind Kind { get; }

    [Fact]
    public void EveryObject_AfterItsEngineWasDisposed_SaysTheEngineWasDisposed()
    {
        var o = new SomaLayerOptions(12, 4, 2, 4, window: 3);
        var w = TestData.Weights(o, seed: 311);
        var x = TestData.Inputs(o.ModelDim, 1, seed: 312);
        var engine = SomaEngine.Create(new SomaEngineOptions(Kind));
        var layer = engine.CreateLayer(o, w);
        var session = layer.CreateSession();
        var pool = layer.CreatePool(2);
        var pooled = pool.OpenSession();
        var model = engine.CreateModel(o, new[] { w, w });
        var sequence = model.CreateSession();
        var modelPool = model.CreatePool(1);
        session.Decode(x);
        var snapshot = new MemoryStream();
        session.SaveState(snapshot);

        engine.Dispose();

        engine.AllocatedBytes.Should().Be(0);
        var calls = new (string What, Action Call)[]
        {
            ("engine.CreateLayer", () => engine.CreateLayer(o, w)),
            ("engine.CreateModel", () => engine.CreateModel(o, new[] { w })),
            ("layer.CreateSession", () => layer.CreateSession()),
            ("layer.CreatePool", () => layer.CreatePool(1)),
            ("layer.DecodeBatch", () => layer.DecodeBatch(new[] { pooled }, x)),
            ("layer.PrefillBatch", () => layer.PrefillBatch(new[] { pooled }, new[] { 1 }, x)),
            ("session.Decode", () => session.Decode(x)),
            ("session.Prefill", () => session.Prefill(x)),
            ("session.DecodeAsync", () => session.DecodeAsync(x)),
            ("session.Reset", () => session.Reset()),
            ("session.SaveState", () => session.SaveState(new MemoryStream())),
            ("session.LoadState", () => session.LoadState(new MemoryStream(snapshot.ToArray()))),
            ("pool.OpenSession", () => pool.OpenSession()),
            ("pooled.Decode", () => pooled.Decode(x)),
            ("model.CreateSession", () => model.CreateSession()),
            ("model.CreatePool", () => model.CreatePool(1)),
            ("model.DecodeBatch", () => model.DecodeBatch(new[] { sequence }, x)),
            ("model session Decode", () => sequence.Decode(x)),
            ("model session Prefill", () => sequence.Prefill(x)),
            ("model session Reset", () => sequence.Reset()),
            ("model session LoadState", () => sequence.LoadState(new MemoryStream())),
            ("model pool OpenSession", () => modelPool.OpenSession()),
        };
        foreach (var (what, call) in calls)
        {
            call.Should().Throw<ObjectDisposedException>(what)
                .Where(e => e.ObjectName == nameof(SomaEngine), $"{what} names the engine")
                .WithMessage("*SomaEngine*was disposed*");
        }

        // Disposing what the engine already disposed stays harmless.
        sequence.Dispose();
        modelPool.Dispose();
        model.Dispose();
        pooled.Dispose();
        pool.Dispose();
        session.Dispose();
        layer.Dispose();
    }
}
