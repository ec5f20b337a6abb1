namespace SpecializedInfer.Planning;

/// <summary>
/// How the rotary embedding pairs a head's dimensions (ggml's rope modes): <see cref="Adjacent"/> rotates
/// (x[2i], x[2i+1]) as LLaMA does; <see cref="HalfSplit"/> rotates (x[i], x[i + n/2]) as GPT-NeoX and Qwen2 do.
/// Both turn pair i by the same angle; only which two numbers form the pair differs.
/// </summary>
public enum RopeStyle
{
    Adjacent,
    HalfSplit,
}

/// <summary>
/// The decoder architectures a manifest may name, and what each one fixes about the forward pass, decided here
/// once for the loader, the reference engine and the generator. Everything else (sizes, head dimension, rope base
/// and frequency factors, tied output) is a number in the manifest, not a property of the architecture.
/// </summary>
public static class DecoderArchitecture
{
    /// <summary>LLaMA 1-3, TinyLlama, SmolLM: the GGUF architecture <c>llama</c>.</summary>
    public const string Llama = "llama";

    /// <summary>Qwen2 and Qwen2.5: LLaMA's block with biases on the query, key and value projections and half-split rotary pairs.</summary>
    public const string Qwen2 = "qwen2";

    /// <summary>The decoder architectures, as GGUF's <c>general.architecture</c> names them.</summary>
    public static readonly string[] Names = { Llama, Qwen2 };

    /// <summary>The architectures the generator emits engines for (all of <see cref="Names"/>; the reference engine runs them too).</summary>
    public static readonly string[] Generated = { Llama, Qwen2 };

    public static bool IsDecoder(string? architecture) => architecture is Llama or Qwen2;

    /// <summary>The pairing of rotary dimensions (llama.cpp: LLAMA_ROPE_TYPE_NORM for llama, NEOX for qwen2).</summary>
    public static RopeStyle RopeStyleOf(string architecture) => architecture == Qwen2 ? RopeStyle.HalfSplit : RopeStyle.Adjacent;

    /// <summary>Whether the query, key and value projections add a bias vector after the matrix product.</summary>
    public static bool HasAttentionBias(string architecture) => architecture == Qwen2;
}
