using SpecializedInfer.Generators.Model;

namespace SpecializedInfer.Generators.Emitting;

/// <summary>
/// An engine's spec with its weight layout decided: what both of its files (<see cref="EngineEmitter"/>,
/// <see cref="KernelSet"/>) are written from. A pipeline step of its own, so the layout is decided once per spec.
/// </summary>
public sealed record EngineLayout(EngineSpec Spec, WeightLayout Weights)
{
    public static EngineLayout For(EngineSpec spec) => new(spec, WeightLayout.For(spec));
}
