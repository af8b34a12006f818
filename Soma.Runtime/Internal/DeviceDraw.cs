namespace Soma.Internal;

/// <summary>
/// A temperature draw made on the device (Gumbel-max over the LM head's logits): the picked row's token is
/// argmax(logits / T + Gumbel noise of (seed, step, column)), so the call downloads one int, not V floats.
/// </summary>
/// <param name="InverseTemperature">1 / T.</param>
/// <param name="Seed">The sampler's seed.</param>
/// <param name="Step">The sampler's draw count (the first picked row's; the next rows take the next steps).</param>
internal readonly record struct DeviceDraw(float InverseTemperature, long Seed, long Step);
