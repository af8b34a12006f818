using ILGPU;
using ILGPU.Runtime;

namespace Soma;

/// <summary>Argument checks for the public surface: each names the argument and what was expected.</summary>
internal static class Guard
{
    public static int Positive(int value, string name)
    {
        if (value < 1)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be >= 1.");
        }

        return value;
    }

    public static void Length<T>(ReadOnlySpan<T> span, long expected, string name, string shape) =>
        Length(span.Length, expected, name, shape);

    public static void Length(int actual, long expected, string name, string shape)
    {
        if (actual != expected)
        {
            throw new ArgumentException(
                $"{name} has {actual} elements; expected {expected} ({shape}).", name);
        }
    }

    /// <summary>
    /// A destination y that must hold at least <paramref name="needed"/> floats; a longer one is fine and only its
    /// first <paramref name="needed"/> are written (as System.Numerics.Tensors' TensorPrimitives does).
    /// </summary>
    public static void Output(int yLength, long needed, string shape)
    {
        if (yLength < needed)
        {
            throw new ArgumentException(
                $"y has {yLength} elements; expected at least {needed} ({shape}); only the first {needed} are written.", "y");
        }
    }

    /// <summary>Every element finite, when <paramref name="check"/> (<see cref="SomaEngineOptions.CheckFiniteInputs"/>).</summary>
    public static void Finite(ReadOnlySpan<float> values, string name, bool check)
    {
        if (check)
        {
            Finite(values, name);
        }
    }

    public static void Finite(ReadOnlySpan<float> values, string name)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                throw new ArgumentException(
                    $"{name}[{i}] is {values[i]}; every element must be finite.", name);
            }
        }
    }

    /// <summary>x [n, D] row-major, y at least x's length and (when <paramref name="finite"/>) every x finite; returns n.</summary>
    public static int Rows(ReadOnlySpan<float> x, int yLength, int modelDim, bool finite)
    {
        if (x.Length % modelDim != 0)
        {
            throw new ArgumentException($"x has {x.Length} elements; expected n * D with D = {modelDim} ([n, D] row-major).", "x");
        }

        Output(yLength, x.Length, $"[n={x.Length / modelDim}, D={modelDim}], the length of x");
        Finite(x, "x", finite);
        return x.Length / modelDim;
    }

    /// <summary>One token: x [D], y of at least D and (when <paramref name="finite"/>) every x finite.</summary>
    public static void Token(ReadOnlySpan<float> x, int yLength, int modelDim, bool finite)
    {
        // The shape text is formatted only for the exception, so that a decode step allocates nothing here.
        if (x.Length != modelDim)
        {
            Length(x, modelDim, "x", $"[D={modelDim}]");
        }

        if (yLength < modelDim)
        {
            Output(yLength, modelDim, $"[D={modelDim}]");
        }

        Finite(x, "x", finite);
    }

    /// <summary>
    /// Device rows x [n, D] of a call on <paramref name="engine"/>'s accelerator: a valid view of a multiple of D
    /// values (at most <see cref="Array.MaxLength"/>); returns n.
    /// </summary>
    public static int DeviceRows(ArrayView<float> x, SomaEngine engine, int modelDim)
    {
        OnAccelerator(x, "x", engine);
        if (x.Length % modelDim != 0 || x.Length > Array.MaxLength)
        {
            throw new ArgumentException(
                $"x has {x.Length} elements; expected n * D with D = {modelDim} ([n, D] row-major), at most {Array.MaxLength} elements.", "x");
        }

        return (int)(x.Length / modelDim);
    }

    /// <summary>
    /// The device views of a call on <paramref name="engine"/>: x of exactly <paramref name="expected"/> values, y of
    /// at least as many (only the first are written), both valid views on the engine's accelerator; y either the same
    /// view as x (the call runs in place) or not overlapping it; <paramref name="stream"/> null or of the engine's
    /// accelerator. Returns the part of y the call writes. Checks only: nothing on the device changes.
    /// </summary>
    public static ArrayView<float> Views(
        ArrayView<float> x, ArrayView<float> y, long expected, string shape, SomaEngine engine, AcceleratorStream? stream)
    {
        OnAccelerator(x, "x", engine);
        OnAccelerator(y, "y", engine);
        if (x.Length != expected)
        {
            throw new ArgumentException($"x has {x.Length} elements; expected {expected} ({shape}).", "x");
        }

        if (y.Length < expected)
        {
            throw new ArgumentException(
                $"y has {y.Length} elements; expected at least {expected} ({shape}); only the first {expected} are written.", "y");
        }

        var written = y.SubView(0, expected);
        var (bufferX, indexX) = (BufferOf(x), IndexOf(x));
        var (bufferY, indexY) = (BufferOf(written), IndexOf(written));
        if (ReferenceEquals(bufferX, bufferY) && indexX != indexY && indexX < indexY + expected && indexY < indexX + expected)
        {
            throw new ArgumentException(
                "y overlaps x without being the same view; pass the same view for x and y to run in place, or views that do not overlap.", "y");
        }

        if (stream is not null && !ReferenceEquals(stream.Accelerator, engine.Accelerator))
        {
            throw new ArgumentException(
                $"stream belongs to another accelerator ({stream.Accelerator.Name}); expected a stream of the engine's ({engine.Accelerator.Name}).", nameof(stream));
        }

        return written;
    }

    /// <summary>A valid view whose buffer lives on <paramref name="engine"/>'s accelerator.</summary>
    private static void OnAccelerator(ArrayView<float> view, string name, SomaEngine engine)
    {
        if (!view.IsValid)
        {
            throw new ArgumentException($"{name} is not a valid view (a default ArrayView).", name);
        }

        if (BufferOf(view) is not { } buffer || !ReferenceEquals(buffer.Accelerator, engine.Accelerator))
        {
            throw new ArgumentException(
                $"{name} lives on another accelerator ({BufferOf(view)?.Accelerator.Name}); expected a view on the engine's accelerator ({engine.Accelerator.Name}).",
                name);
        }
    }

    /// <summary>The buffer a view is of (through its interface, without boxing the view).</summary>
    private static MemoryBuffer? BufferOf<TView>(TView view)
        where TView : struct, IArrayView => view.Buffer;

    /// <summary>The view's first element's index in its buffer (through its interface, without boxing the view).</summary>
    private static long IndexOf<TView>(TView view)
        where TView : struct, IContiguousArrayView => view.Index;

    /// <summary>Prompt lengths of a batch: one per session, each >= 0; returns their sum.</summary>
    public static long Lengths(IReadOnlyList<int> lengths, int sessions)
    {
        ArgumentNullException.ThrowIfNull(lengths);
        if (lengths.Count != sessions)
        {
            throw new ArgumentException($"lengths has {lengths.Count} entries; expected one per session ({sessions}).", nameof(lengths));
        }

        long total = 0;
        for (int i = 0; i < lengths.Count; i++)
        {
            if (lengths[i] < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(lengths), lengths[i], $"lengths[{i}] is {lengths[i]}; expected >= 0.");
            }

            total += lengths[i];
        }

        return total;
    }
}
