using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace SpecializedInfer.Engine;

/// <summary>
/// Software prefetch for generated kernels. A prefetch needs a pointer, and generated code must not need
/// <c>AllowUnsafeBlocks</c> in the user's project, so the kernels call this (inlined) with a <c>ref</c> instead.
/// Streaming a large weight matrix from DRAM, asking for the data 16 KiB ahead into L2 keeps more cache-line
/// fills in flight than the hardware prefetcher alone. A prefetch never faults; callers still keep the address
/// inside the tensor. A no-op where x86 SSE is not available.
/// </summary>
public static class Prefetch
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void ToL2(ref readonly float location)
    {
        if (Sse.IsSupported) Sse.Prefetch2(Unsafe.AsPointer(ref Unsafe.AsRef(in location)));
    }
}
