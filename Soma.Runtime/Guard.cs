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
}
