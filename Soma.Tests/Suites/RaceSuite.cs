using Soma;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>
/// Lifetimes under races: disposing a session, pool, model session, layer or engine while a call runs frees nothing
/// the call uses, a slot comes back clean only after the call has ended, and a second call on a busy session fails
/// at once with <see cref="InvalidOperationException"/>. Calls are held inside a chosen stage (the layer's
/// <c>BeforeStage</c> hook) so the overlaps are certain; randomized tries add arbitrary points between and in calls.
/// </summary>
public abstract class RaceSuite
{
    /// <summary>Long enough that only a deadlock (a call queueing instead of failing, a Dispose that waits) reaches it.</summary>
    private static readonly TimeSpan Hang = TimeSpan.FromSeconds(30);

    protected RaceSuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    /// <summary>The calls a held call runs: a decode, a one-pass prefill and a prefill of three pipelined passes.</summary>
    public static TheoryData<int> CallRows => new() { 1, 3, 9 };

    private static SomaLayerOptions Shape() => new(8, 2, 1, 4, window: 4, ropeTheta: 10000.0, maxChunkTokens: 4);

    [Theory]
    [MemberData(nameof(CallRows))]
    public async Task DisposingASessionOrPool_DuringAHeldCall_FreesNothingUntilItEnds_AndTheSlotComesBackClean(int rows)
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 200, biases: true));
        var x = TestData.Inputs(o.ModelDim, rows, seed: 201);
        var first = TestData.Inputs(o.ModelDim, 1, seed: 202);
        float[] fresh;
        using (var s = layer.CreateSession())
        {
            fresh = s.Decode(first);
        }

        int stages = CountStages(layer, () => RunOn(layer.CreateSession(), x, dispose: true));
        foreach (var target in new[] { "session", "own-pool session", "pool" })
        {
            for (int at = 0; at < stages; at++)
            {
                long baseline = Engine.AllocatedBytes;
                var pool = layer.CreatePool(1);
                var session = target == "own-pool session" ? layer.CreateSession() : pool.OpenSession();
                using (var hold = new StageHold(at, layer))
                {
                    var call = Outcome(Task.Run(() => RunOn(session, x, dispose: false)));
                    hold.Entered.Wait(Hang).Should().BeTrue("the call reaches stage {0}", at);
                    long held = Engine.AllocatedBytes;

                    var dispose = Task.Run(() => (target == "pool" ? (IDisposable)pool : session).Dispose());
                    (await EndsInTime(dispose)).Should().BeTrue("Dispose does not wait for the call ({0}, stage {1})", target, at);
                    Engine.AllocatedBytes.Should().Be(held, "nothing is freed under a running call ({0}, stage {1})", target, at);
                    if (target == "session")
                    {
                        pool.Available.Should().Be(0, "the slot stays with the call until it ends (stage {0})", at);
                    }

                    hold.Go.Set();
                    ShouldBeDoneOrDisposed(await call, $"{target}, stage {at}");
                }

                if (target == "session")
                {
                    pool.Available.Should().Be(1, "the slot is back once the call has ended (stage {0})", at);
                    using var reopened = pool.OpenSession();
                    reopened.Decode(first).Should().Equal(fresh, "a reopened slot is clean (stage {0})", at);
                }

                pool.Dispose();
                Engine.AllocatedBytes.Should().Be(baseline, "every buffer is freed once the call has ended ({0}, stage {1})", target, at);
            }
        }
    }

    [Theory]
    [MemberData(nameof(CallRows))]
    public async Task DisposingAModelSessionOrPool_DuringAHeldCall_FreesNothingUntilItEnds_AndTheSlotsComeBackClean(int rows)
    {
        var o = Shape();
        using var model = Engine.CreateModel(o, new[] { TestData.Weights(o, seed: 210), TestData.Weights(o, seed: 211, biases: true) });
        var layers = model.Layers.ToArray();
        var x = TestData.Inputs(o.ModelDim, rows, seed: 212);
        var first = TestData.Inputs(o.ModelDim, 1, seed: 213);
        float[] fresh;
        using (var s = model.CreateSession())
        {
            fresh = s.Decode(first);
        }

        int stages = CountStages(layers, () =>
        {
            using var s = model.CreateSession();
            s.Prefill(x);
        });
        foreach (var target in new[] { "model session", "model pool" })
        {
            for (int at = 0; at < stages; at++)
            {
                long baseline = Engine.AllocatedBytes;
                var pool = model.CreatePool(1);
                var session = pool.OpenSession();
                using (var hold = new StageHold(at, layers))
                {
                    var call = Outcome(Task.Run(() => session.Prefill(x)));
                    hold.Entered.Wait(Hang).Should().BeTrue("the call reaches stage {0}", at);
                    long held = Engine.AllocatedBytes;

                    var dispose = Task.Run(() => (target == "model pool" ? (IDisposable)pool : session).Dispose());
                    (await EndsInTime(dispose)).Should().BeTrue("Dispose does not wait for the call ({0}, stage {1})", target, at);
                    Engine.AllocatedBytes.Should().Be(held, "nothing is freed under a running call ({0}, stage {1})", target, at);
                    if (target == "model session")
                    {
                        Action reopen = () => pool.OpenSession();
                        reopen.Should().Throw<InvalidOperationException>("the slots stay with the call until it ends (stage {0})", at);
                    }

                    hold.Go.Set();
                    ShouldBeDoneOrDisposed(await call, $"{target}, stage {at}");
                }

                if (target == "model session")
                {
                    using var reopened = pool.OpenSession();
                    reopened.Decode(first).Should().Equal(fresh, "reopened slots are clean in every layer (stage {0})", at);
                }

                pool.Dispose();
                Engine.AllocatedBytes.Should().Be(baseline, "every buffer is freed once the call has ended ({0}, stage {1})", target, at);
            }
        }
    }

    [Fact]
    public async Task DisposingAtRandomPoints_OfDecodeAndPrefillLoops_OnlyEverEndsInObjectDisposed_AndReusedSlotsAreClean()
    {
        var o = Shape();
        int d = o.ModelDim;
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 220, biases: true));
        using var model = Engine.CreateModel(o, new[] { TestData.Weights(o, seed: 221), TestData.Weights(o, seed: 222) });
        var x = TestData.Inputs(d, 9, seed: 223);
        var first = TestData.Inputs(d, 1, seed: 224);
        float[] freshLayer, freshModel;
        using (var s = layer.CreateSession())
        {
            freshLayer = s.Decode(first);
            s.Prefill(x); // sizes the layer's scratch for the longest call of the loops
        }

        using (var s = model.CreateSession())
        {
            freshModel = s.Decode(first);
            s.Prefill(x);
        }

        long baseline = Engine.AllocatedBytes;
        using var layerPool = layer.CreatePool(1);
        using var modelPool = model.CreatePool(1);
        for (int attempt = 0; attempt < 240; attempt++)
        {
            var rng = new Random(225 + attempt);
            string target = (attempt % 4) switch { 0 => "session", 1 => "pool", 2 => "model session", _ => "model pool" };
            long before = Engine.AllocatedBytes;
            SomaSessionPool? ownPool = target == "pool" ? layer.CreatePool(2) : null;
            SomaModelPool? ownModelPool = target == "model pool" ? model.CreatePool(1) : null;
            IDisposable victim;
            Action<int> call;
            switch (target)
            {
                case "session" or "pool":
                    var s = (ownPool ?? layerPool).OpenSession();
                    victim = ownPool ?? (IDisposable)s;
                    call = i => _ = i % 3 == 2 ? s.Prefill(x.AsSpan(0, (1 + i % 9) * d)) : s.Decode(x.AsSpan(0, d));
                    break;
                default:
                    var m = (ownModelPool ?? modelPool).OpenSession();
                    victim = ownModelPool ?? (IDisposable)m;
                    call = i => _ = i % 3 == 2 ? m.Prefill(x.AsSpan(0, (1 + i % 9) * d)) : m.Decode(x.AsSpan(0, d));
                    break;
            }

            int calls = 0;
            var loop = Outcome(Task.Run(() =>
            {
                for (int i = 0; ; i++)
                {
                    call(i);
                    Interlocked.Increment(ref calls);
                }
            }));

            // Dispose after a random number of completed calls, at a random point of the call then running.
            int after = rng.Next(0, 4);
            SpinWait.SpinUntil(() => Volatile.Read(ref calls) >= after || loop.IsCompleted);
            Thread.SpinWait(rng.Next(0, 100_000));
            victim.Dispose();
            (await loop).Should().BeAssignableTo<ObjectDisposedException>("only ObjectDisposedException ends a loop whose {0} was disposed (try {1})", target, attempt);

            if (target == "session")
            {
                using var reopened = layerPool.OpenSession();
                reopened.Decode(first).Should().Equal(freshLayer, "a reused slot is clean (try {0})", attempt);
            }
            else if (target == "model session")
            {
                using var reopened = modelPool.OpenSession();
                reopened.Decode(first).Should().Equal(freshModel, "reused slots are clean (try {0})", attempt);
            }

            Engine.AllocatedBytes.Should().Be(before, "nothing leaks (try {0}, {1})", attempt, target);
        }

        layerPool.Dispose();
        modelPool.Dispose();
        Engine.AllocatedBytes.Should().Be(baseline);
    }

    [Fact]
    public async Task DisposingALayer_WhileOneCallRunsAndAnotherWaits_EndsTheWaitingCallDisposed_AndFreesEverything()
    {
        var o = Shape();
        var w = TestData.Weights(o, seed: 230);
        var x = TestData.Inputs(o.ModelDim, 6, seed: 231);
        long baseline = Engine.AllocatedBytes;
        for (int attempt = 0; attempt < 60; attempt++)
        {
            var layer = Engine.CreateLayer(o, w);
            var running = layer.CreateSession();
            var pool = layer.CreatePool(2);
            var waiting = pool.OpenSession();
            Task<Exception?> runningCall, waitingCall;
            Task dispose;
            using (var hold = new StageHold(attempt % 8, layer))
            {
                runningCall = Outcome(Task.Run(() => running.Prefill(x.AsSpan(0, (1 + attempt % 3) * o.ModelDim))));
                hold.Entered.Wait(Hang).Should().BeTrue();

                // Both queue behind the held call, in either order; the layer's dispose must free nothing under it.
                var rng = new Random(232 + attempt);
                dispose = Task.Run(() => layer.Dispose());
                waitingCall = Outcome(Task.Run(() => waiting.Decode(x.AsSpan(0, o.ModelDim))));
                Thread.SpinWait(rng.Next(0, 100_000));
                hold.Go.Set();
            }

            ShouldBeDoneOrDisposed(await runningCall, $"running call, try {attempt}");
            ShouldBeDoneOrDisposed(await waitingCall, $"waiting call, try {attempt}");
            (await EndsInTime(dispose)).Should().BeTrue("Dispose ends once the calls have");
            Engine.AllocatedBytes.Should().Be(baseline, "the layer, its pools and sessions are freed (try {0})", attempt);
            Action use = () => waiting.Decode(x.AsSpan(0, o.ModelDim));
            use.Should().Throw<ObjectDisposedException>();
        }
    }

    [Fact]
    public async Task DisposingAnEngine_DuringCalls_WaitsForThem_AndLaterCallsEndDisposed()
    {
        var o = Shape();
        var x = TestData.Inputs(o.ModelDim, 5, seed: 240);
        for (int attempt = 0; attempt < 2; attempt++)
        {
            var engine = SomaEngine.Create(new SomaEngineOptions(Engine.Device.Kind));
            long empty = engine.AllocatedBytes;
            var layer = engine.CreateLayer(o, TestData.Weights(o, seed: 241));
            var model = engine.CreateModel(o, new[] { TestData.Weights(o, seed: 242), TestData.Weights(o, seed: 243) });
            var session = layer.CreateSession();
            var other = layer.CreateSession();
            var sequence = model.CreateSession();
            session.Decode(x.AsSpan(0, o.ModelDim)); // compile the kernels before the race
            Task<Exception?> held, waiting, modelCall;
            Task dispose;
            using (var hold = new StageHold(3 + attempt, layer))
            {
                held = Outcome(Task.Run(() => session.Prefill(x)));
                hold.Entered.Wait(Hang).Should().BeTrue();
                dispose = Task.Run(() => engine.Dispose());
                waiting = Outcome(Task.Run(() => other.Prefill(x)));
                modelCall = Outcome(Task.Run(() => sequence.Prefill(x)));
                Thread.SpinWait(new Random(244 + attempt).Next(0, 100_000));
                hold.Go.Set();
            }

            ShouldBeDoneOrDisposed(await held, "the held call");
            ShouldBeDoneOrDisposed(await waiting, "a call waiting for the layer");
            ShouldBeDoneOrDisposed(await modelCall, "a model call");
            (await EndsInTime(dispose)).Should().BeTrue("Dispose ends once the calls have");
            engine.AllocatedBytes.Should().Be(empty, "the engine freed every buffer");
            Action use = () => other.Decode(x.AsSpan(0, o.ModelDim));
            use.Should().Throw<ObjectDisposedException>();
        }
    }

    [Fact]
    public async Task ASecondCall_OnASessionBusyWithAnother_ThrowsInvalidOperationAtOnce_ForEveryCallKind()
    {
        var o = Shape();
        int d = o.ModelDim;
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 250, biases: true));
        using var pool = layer.CreatePool(2);
        using var session = pool.OpenSession();
        using var other = pool.OpenSession();
        var x = TestData.Inputs(d, 9, seed: 251);
        var snapshot = new MemoryStream();
        session.SaveState(snapshot);
        var kinds = CallKinds(x, d, m => session.Decode(m.Span), m => session.Prefill(m.Span), session.PrefillAsync, session.DecodeAsync, session.Reset);
        kinds.Add(("DecodeBatch", () => Sync(() => layer.DecodeBatch(new[] { other, session }, x.AsSpan(0, 2 * d)))));
        kinds.Add(("PrefillBatch", () => Sync(() => layer.PrefillBatch(new[] { other, session }, new[] { 2, 3 }, x.AsSpan(0, 5 * d)))));
        kinds.Add(("SaveState", () => Sync(() => session.SaveState(new MemoryStream()))));
        kinds.Add(("LoadState", () => Sync(() => session.LoadState(new MemoryStream(snapshot.ToArray())))));

        await EachIsRefusedWhileADecodeRuns(kinds, new[] { layer }, 2, () => session.Decode(x.AsSpan(d, d)), () => session.Position);
        other.Position.Should().Be(0, "a refused batch changes no session of it");
        other.Decode(x.AsSpan(0, d)); // and leaves none of them claimed
    }

    [Fact]
    public async Task ASecondCall_OnAModelSessionBusyWithAnother_ThrowsInvalidOperationAtOnce_ForEveryCallKind()
    {
        var o = Shape();
        int d = o.ModelDim;
        using var model = Engine.CreateModel(o, new[] { TestData.Weights(o, seed: 260), TestData.Weights(o, seed: 261) });
        using var pool = model.CreatePool(2);
        using var session = pool.OpenSession();
        using var other = pool.OpenSession();
        var x = TestData.Inputs(d, 9, seed: 262);
        var snapshot = new MemoryStream();
        session.SaveState(snapshot);
        var kinds = CallKinds(x, d, m => session.Decode(m.Span), m => session.Prefill(m.Span), session.PrefillAsync, session.DecodeAsync, session.Reset);
        kinds.Add(("DecodeBatch", () => Sync(() => model.DecodeBatch(new[] { other, session }, x.AsSpan(0, 2 * d)))));
        kinds.Add(("PrefillBatch", () => Sync(() => model.PrefillBatch(new[] { other, session }, new[] { 2, 3 }, x.AsSpan(0, 5 * d)))));
        kinds.Add(("SaveState", () => Sync(() => session.SaveState(new MemoryStream()))));
        kinds.Add(("LoadState", () => Sync(() => session.LoadState(new MemoryStream(snapshot.ToArray())))));

        // Held at stage 10, in the second layer: the running call holds the first layer's lock and claims every layer.
        await EachIsRefusedWhileADecodeRuns(kinds, model.Layers.ToArray(), 10, () => session.Decode(x.AsSpan(d, d)), () => session.Position);
        other.Position.Should().Be(0, "a refused batch changes no sequence of it");
        other.Decode(x.AsSpan(0, d)); // and leaves none of them claimed
    }

    [Fact]
    public async Task TwoCallsStartedTogether_OnOneSession_OneRunsAndTheOtherThrowsInvalidOperation()
    {
        var o = Shape();
        int d = o.ModelDim;
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 270));
        using var model = Engine.CreateModel(o, new[] { TestData.Weights(o, seed: 271), TestData.Weights(o, seed: 272) });
        using var session = layer.CreateSession();
        using var sequence = model.CreateSession();
        var x = TestData.Inputs(d, 6, seed: 273);
        var kinds = new (string Name, Action Call, SomaLayer[] Layers)[]
        {
            ("Decode", () => session.Decode(x.AsSpan(0, d)), new[] { layer }),
            ("Prefill", () => session.Prefill(x), new[] { layer }),
            ("DecodeAsync", () => session.DecodeAsync(x.AsMemory(0, d)).GetAwaiter().GetResult(), new[] { layer }),
            ("model Decode", () => sequence.Decode(x.AsSpan(0, d)), model.Layers.ToArray()),
            ("model PrefillAsync", () => sequence.PrefillAsync(x).GetAwaiter().GetResult(), model.Layers.ToArray()),
        };

        foreach (var (name, call, layers) in kinds)
        {
            for (int attempt = 0; attempt < 10; attempt++)
            {
                // Whichever call gets the session waits inside its first stage until the other has ended, so they
                // overlap every time; a call that queued instead of failing would leave both waiting.
                var otherEnded = new ManualResetEventSlim();
                int entered = 0;
                foreach (var l in layers)
                {
                    l.BeforeStage = _ =>
                    {
                        if (Interlocked.Exchange(ref entered, 1) == 0)
                        {
                            otherEnded.Wait(Hang).Should().BeTrue("the other call ends without waiting ({0})", name);
                        }
                    };
                }

                try
                {
                    using var barrier = new Barrier(2);
                    var outcomes = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
                    {
                        barrier.SignalAndWait();
                        try
                        {
                            call();
                            return null;
                        }
                        catch (Exception e)
                        {
                            return e;
                        }
                        finally
                        {
                            otherEnded.Set(); // lets the held call go on; the held call itself reaches this only after
                        }
                    })).ToArray();
                    var ends = await Task.WhenAll(outcomes);

                    ends.Count(e => e is null).Should().Be(1, "one of two overlapping {0} calls runs (try {1})", name, attempt);
                    ends.Single(e => e is not null).Should().BeOfType<InvalidOperationException>("the other is refused (try {0})", attempt);
                }
                finally
                {
                    foreach (var l in layers)
                    {
                        l.BeforeStage = null;
                    }
                }
            }
        }
    }

    /// <summary>
    /// The calls a sequence (a layer's or a model's session) offers on its own: a decode and prefills of one and of
    /// several passes, synchronous and async, and a reset.
    /// </summary>
    private static List<(string Name, Func<Task> Call)> CallKinds(
        float[] x, int d, Func<ReadOnlyMemory<float>, float[]> decode, Func<ReadOnlyMemory<float>, float[]> prefill,
        Func<ReadOnlyMemory<float>, CancellationToken, Task<float[]>> prefillAsync,
        Func<ReadOnlyMemory<float>, CancellationToken, Task<float[]>> decodeAsync, Action reset) =>
        new()
        {
            ("Decode", () => Sync(() => decode(x.AsMemory(0, d)))),
            ("Prefill", () => Sync(() => prefill(x.AsMemory(0, 3 * d)))),
            ("Prefill in passes", () => Sync(() => prefill(x))),
            ("DecodeAsync", () => decodeAsync(x.AsMemory(0, d), default)),
            ("PrefillAsync", () => prefillAsync(x.AsMemory(0, 6 * d), default)),
            ("Reset", () => Sync(reset)),
        };

    /// <summary>
    /// For each call kind: holds <paramref name="decode"/> at stage <paramref name="holdAt"/> of
    /// <paramref name="layers"/>, makes the call, which must throw <see cref="InvalidOperationException"/> while the
    /// decode still runs, then lets the decode finish; only the decode advances the sequence.
    /// </summary>
    private static async Task EachIsRefusedWhileADecodeRuns(
        List<(string Name, Func<Task> Call)> kinds, SomaLayer[] layers, int holdAt, Action decode, Func<long> position)
    {
        foreach (var (name, call) in kinds)
        {
            long before = position();
            using (var hold = new StageHold(holdAt, layers))
            {
                var holder = Outcome(Task.Run(decode));
                hold.Entered.Wait(Hang).Should().BeTrue();

                (await Outcome(call)).Should().BeOfType<InvalidOperationException>("{0} overlaps a running decode on its session", name)
                    .Which.Message.Should().Contain("already in use");
                hold.Go.Set();
                (await holder).Should().BeNull("the running call finishes ({0})", name);
            }

            position().Should().Be(before + 1, "only the running call advanced the session ({0})", name);
        }
    }

    /// <summary>Whether <paramref name="task"/> ends before <see cref="Hang"/> (false only on a deadlock).</summary>
    private static async Task<bool> EndsInTime(Task task) => await Task.WhenAny(task, Task.Delay(Hang)) == task;

    private static Task Sync(Action call)
    {
        call();
        return Task.CompletedTask;
    }

    /// <summary>What a call ended in: null when it returned, else its exception (async ones unwrapped).</summary>
    private static Task<Exception?> Outcome(Task call) => Outcome(() => call);

    /// <summary><see cref="Outcome(Task)"/> of a call that may also throw before it returns its task.</summary>
    private static async Task<Exception?> Outcome(Func<Task> call)
    {
        try
        {
            await call();
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    private static void ShouldBeDoneOrDisposed(Exception? outcome, string what)
    {
        if (outcome is not null)
        {
            outcome.Should().BeAssignableTo<ObjectDisposedException>("a call racing a Dispose returns or ends disposed ({0}): {1}", what, outcome);
        }
    }

    /// <summary>Runs x through a session (a decode for one row, else a prefill) and optionally disposes it after.</summary>
    private static void RunOn(SomaSession session, float[] x, bool dispose)
    {
        try
        {
            _ = x.Length == session.Layer.Options.ModelDim ? session.Decode(x) : session.Prefill(x);
        }
        finally
        {
            if (dispose)
            {
                session.Dispose();
            }
        }
    }

    /// <summary>How many stage hooks one run of <paramref name="call"/> passes, over all of <paramref name="layers"/>.</summary>
    private static int CountStages(SomaLayer layer, Action call) => CountStages(new[] { layer }, call);

    private static int CountStages(SomaLayer[] layers, Action call)
    {
        using var hold = new StageHold(-1, layers);
        call();
        return hold.Count;
    }

    /// <summary>
    /// Holds the <c>at</c>-th stage the layers' calls reach (counted over all of them) until <see cref="Go"/> is set;
    /// at -1 it only counts. Disposing it lets a held call go on and removes the hook.
    /// </summary>
    private sealed class StageHold : IDisposable
    {
        private readonly SomaLayer[] layers;
        private readonly int at;
        private int count;

        public StageHold(int at, params SomaLayer[] layers)
        {
            this.at = at;
            this.layers = layers;
            foreach (var layer in layers)
            {
                layer.BeforeStage = OnStage;
            }
        }

        public ManualResetEventSlim Entered { get; } = new();

        public ManualResetEventSlim Go { get; } = new();

        public int Count => Volatile.Read(ref count);

        public void Dispose()
        {
            Go.Set();
            foreach (var layer in layers)
            {
                layer.BeforeStage = null;
            }
        }

        private void OnStage(string stage)
        {
            if (Interlocked.Increment(ref count) - 1 == at)
            {
                Entered.Set();
                Go.Wait(Hang).Should().BeTrue("the test releases a held call");
            }
        }
    }
}
