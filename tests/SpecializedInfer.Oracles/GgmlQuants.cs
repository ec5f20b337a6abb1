using System.Runtime.InteropServices;

namespace SpecializedInfer.Oracles;

/// <summary>
/// ggml's own block quantizers, dequantizers and quantized dot products, called in the native libraries that
/// LLamaSharp.Backend.Cpu 0.30.0 loaded for <see cref="LlamaCppOracle"/> (the same files llama.cpp runs here):
/// <c>libggml-base</c> holds the format code (<c>dequantize_row_*</c>, <c>quantize_row_*_ref</c>,
/// <c>ggml_quantize_chunk</c>), <c>libggml-cpu</c> the CPU backend's kernels (<c>quantize_row_q8_0</c>, the
/// activation quantizer of a Q8_0/Q4_0 matrix product, and <c>ggml_vec_dot_*</c>). Test-only.
/// </summary>
/// <remarks>
/// The exports are looked up by name in the libraries already mapped into the process (found through
/// <c>/proc/self/maps</c> after the backend is initialised), so no second copy of ggml is ever loaded.
/// </remarks>
public static unsafe class GgmlQuants
{
    private static readonly Lazy<(nint Base, nint Cpu)> Libraries = new(LoadLibraries);

    /// <summary>ggml's type ids (ggml.h), for <see cref="QuantizeChunk"/> and <see cref="RowSize"/>.</summary>
    public static class TypeId
    {
        public const int F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9;
        public const int Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, IQ4_NL = 20, BF16 = 30;
    }

    /// <summary>Path of the loaded <c>libggml-base</c> (which CPU variant: avx512, avx2, ...).</summary>
    public static string BaseLibraryPath { get; private set; } = "";

    /// <summary><c>ggml_quantize_chunk</c>: what llama.cpp's quantizer calls for each tensor (no importance matrix).</summary>
    public static byte[] QuantizeChunk(int type, ReadOnlySpan<float> values, int rows, int perRow)
    {
        if (values.Length != (long)rows * perRow) throw new ArgumentException("rows × perRow values are needed.", nameof(values));
        var result = new byte[RowSize(type, perRow) * rows];
        var f = (delegate* unmanaged<int, float*, void*, long, long, long, float*, nuint>)Export(Libraries.Value.Base, "ggml_quantize_chunk");
        fixed (float* src = values)
        fixed (byte* dst = result)
        {
            var written = f(type, src, dst, 0, rows, perRow, null);
            if ((long)written != result.Length) throw new InvalidOperationException($"ggml_quantize_chunk wrote {written} bytes, expected {result.Length}.");
        }
        return result;
    }

    /// <summary><c>ggml_row_size</c>: bytes of one row of <paramref name="elements"/> values.</summary>
    public static long RowSize(int type, long elements) =>
        (long)((delegate* unmanaged<int, long, nuint>)Export(Libraries.Value.Base, "ggml_row_size"))(type, elements);

    /// <summary>
    /// <c>dequantize_row_NAME</c> (e.g. "q4_K") over <paramref name="count"/> values; "f16" and "bf16" call
    /// <c>ggml_fp16_to_fp32_row</c> and <c>ggml_bf16_to_fp32_row</c>.
    /// </summary>
    public static float[] Dequantize(string name, ReadOnlySpan<byte> blocks, int count)
    {
        var result = new float[count];
        var symbol = name switch { "f16" => "ggml_fp16_to_fp32_row", "bf16" => "ggml_bf16_to_fp32_row", _ => "dequantize_row_" + name };
        var f = (delegate* unmanaged<void*, float*, long, void>)Export(Libraries.Value.Base, symbol);
        fixed (byte* src = blocks)
        fixed (float* dst = result)
            f(src, dst, count);
        return result;
    }

    /// <summary><c>quantize_row_NAME_ref</c>: the reference quantizer that writes model files.</summary>
    public static byte[] QuantizeReference(string name, int type, ReadOnlySpan<float> values)
    {
        var result = new byte[RowSize(type, values.Length)];
        var f = (delegate* unmanaged<float*, void*, long, void>)Export(Libraries.Value.Base, $"quantize_row_{name}_ref");
        fixed (float* src = values)
        fixed (byte* dst = result)
            f(src, dst, values.Length);
        return result;
    }

    /// <summary>
    /// The CPU backend's <c>quantize_row_NAME</c> (its own build, SIMD where compiled): how a matrix product's
    /// activations are quantized ("q8_0" for Q8_0/Q4_0 weights, "q8_K" for K-quants).
    /// </summary>
    public static byte[] QuantizeActivations(string name, int type, ReadOnlySpan<float> values)
    {
        var result = new byte[RowSize(type, values.Length)];
        var f = (delegate* unmanaged<float*, void*, long, void>)Export(Libraries.Value.Cpu, "quantize_row_" + name);
        fixed (float* src = values)
        fixed (byte* dst = result)
            f(src, dst, values.Length);
        return result;
    }

    /// <summary>
    /// <c>ggml_vec_dot_W_A</c> (e.g. "q8_0_q8_0"), or its portable scalar <c>_generic</c> version, over one row of
    /// <paramref name="n"/> values.
    /// </summary>
    public static float VecDot(string name, bool generic, int n, ReadOnlySpan<byte> weights, ReadOnlySpan<byte> activations)
    {
        var f = (delegate* unmanaged<int, float*, nuint, void*, nuint, void*, nuint, int, void>)Export(
            Libraries.Value.Cpu, $"ggml_vec_dot_{name}{(generic ? "_generic" : "")}");
        float s;
        fixed (byte* x = weights)
        fixed (byte* y = activations)
            f(n, &s, 0, x, 0, y, 0, 1);
        return s;
    }

    private static nint Export(nint library, string name) =>
        NativeLibrary.TryGetExport(library, name, out var address)
            ? address
            : throw new EntryPointNotFoundException($"{name} is not exported by the loaded ggml ({BaseLibraryPath}).");

    private static (nint, nint) LoadLibraries()
    {
        _ = LlamaCppOracle.SystemInfo; // initialises the backend: LLamaSharp loads its native variant
        string? Find(string file) => File.ReadLines("/proc/self/maps")
            .Select(line => line.IndexOf('/') is var at and >= 0 ? line[at..] : "")
            .FirstOrDefault(path => Path.GetFileName(path) == file);
        var basePath = Find("libggml-base.so") ?? throw new DllNotFoundException("libggml-base.so is not loaded: the llama.cpp backend did not initialise.");
        var cpuPath = Find("libggml-cpu.so") ?? Path.Combine(Path.GetDirectoryName(basePath)!, "libggml-cpu.so");
        BaseLibraryPath = basePath;
        return (NativeLibrary.Load(basePath), NativeLibrary.Load(cpuPath));
    }
}
