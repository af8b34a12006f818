using System.Runtime.CompilerServices;
using ILGPU;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// The kernels' typed element views (<see cref="IElementView"/>) over the raw 16-bit device buffers that hold
/// weights and rings (<see cref="StateStore"/>, <see cref="Workspace"/>, <see cref="LayerWeights"/>), and the one
/// switch from a run-time <see cref="SomaStorageType"/> to the view type a generic launch is compiled for.
/// </summary>
internal static class ElementViews
{
    /// <summary>A view of type <typeparamref name="TView"/> over <paramref name="raw"/> (fp32: two units an element).</summary>
    public static TView Of<TView>(ArrayView<ushort> raw)
        where TView : struct, IElementView
    {
        if (typeof(TView) == typeof(Float32View))
        {
            var view = new Float32View { View = raw.Cast<float>() };
            return Unsafe.As<Float32View, TView>(ref view);
        }

        if (typeof(TView) == typeof(Float16View))
        {
            var view = new Float16View { View = raw };
            return Unsafe.As<Float16View, TView>(ref view);
        }

        var bf16 = new BFloat16View { View = raw };
        return Unsafe.As<BFloat16View, TView>(ref bf16);
    }

    /// <summary>The storage type <typeparamref name="TView"/> reads and writes.</summary>
    public static SomaStorageType TypeOf<TView>()
        where TView : struct, IElementView =>
        typeof(TView) == typeof(Float32View) ? SomaStorageType.Float32
        : typeof(TView) == typeof(Float16View) ? SomaStorageType.Float16
        : SomaStorageType.BFloat16;

    /// <summary>Calls <paramref name="action"/>'s generic <see cref="IAction.Run{TView}"/> with the view type of <paramref name="type"/>.</summary>
    public static void Dispatch<TAction>(SomaStorageType type, ref TAction action)
        where TAction : struct, IAction
    {
        switch (type)
        {
            case SomaStorageType.Float16:
                action.Run<Float16View>();
                break;
            case SomaStorageType.BFloat16:
                action.Run<BFloat16View>();
                break;
            default:
                action.Run<Float32View>();
                break;
        }
    }

    /// <summary>Work compiled once per view type (<see cref="Dispatch"/>).</summary>
    public interface IAction
    {
        /// <summary>Does the work with elements viewed as <typeparamref name="TView"/>.</summary>
        void Run<TView>()
            where TView : struct, IElementView;
    }
}
