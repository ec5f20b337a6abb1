using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using LLama.Native;

namespace SpecializedInfer.Oracles;

/// <summary>
/// llama.cpp (through LLamaSharp 0.30.0's low-level handles) configured as an exact reference for our own engine:
/// CPU only (0 GPU layers, no extra/repacked weight buffers, model read without mmap), F32 K and V cache,
/// flash attention disabled, 1 thread for generation and batch. Every operation starts from an empty KV cache.
/// Benchmarks take llama.cpp as it ships instead (<see cref="AsShipped"/>).
/// </summary>
/// <remarks>
/// The native backend is initialised once per process (LLamaSharp's <see cref="NativeApi"/> static constructor
/// loads the library and calls <c>llama_backend_init</c>); llama.cpp log lines below warning level are dropped.
/// All public members are serialised by a per-instance lock, and LLamaSharp additionally serialises every
/// <c>llama_decode</c> across contexts, so instances may be used from parallel test classes.
/// </remarks>
public sealed class LlamaCppOracle : IDisposable
{
    private static readonly object BackendLock = new();
    private static bool s_backendReady;
    private static string s_systemInfo = "";
    private static string s_nativeLibrary = "";
    // Kept alive for as long as the process runs: native code holds a pointer to it.
    private static readonly NativeLogConfig.LLamaLogCallback LogCallback = OnNativeLog;
    [ThreadStatic] private static LLamaLogLevel t_lastLogLevel;
    [ThreadStatic] private static StringBuilder? t_errors;

    private static readonly MethodInfo? DetokenizeMethod =
        typeof(NativeApi).GetMethod("llama_detokenize", BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public);
    private static readonly PropertyInfo? VocabNativeProperty =
        typeof(SafeLlamaModelHandle.Vocabulary).GetProperty("VocabNative", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);

    private readonly object _gate = new();
    private readonly SafeLlamaModelHandle _model;
    private readonly SafeLLamaContextHandle _context;
    private readonly LLamaBatch _batch = new();
    private bool _disposed;

    /// <summary>Opens <paramref name="modelPath"/> (a GGUF file) with a context of <paramref name="contextSize"/> tokens.</summary>
    public LlamaCppOracle(string modelPath, int contextSize = 512) : this(modelPath, contextSize, threads: 1, asShipped: false)
    {
    }

    /// <summary>
    /// llama.cpp as it ships, for speed comparisons rather than exactness: its default model and context parameters
    /// (memory-mapped weights, repacked weight layouts where it has them, F16 K/V cache, flash attention as it
    /// decides), CPU only, on <paramref name="threads"/> threads for generation and batches.
    /// </summary>
    public static LlamaCppOracle AsShipped(string modelPath, int contextSize, int threads) => new(modelPath, contextSize, threads, asShipped: true);

    private LlamaCppOracle(string modelPath, int contextSize, int threads, bool asShipped)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        ArgumentOutOfRangeException.ThrowIfLessThan(contextSize, 1);
        if (!File.Exists(modelPath)) throw new FileNotFoundException($"GGUF model '{modelPath}' not found.", modelPath);
        EnsureBackend();

        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        var modelParams = LLamaModelParams.Default();
        modelParams.n_gpu_layers = 0;                 // CPU only
        modelParams.vocab_only = false;
        if (!asShipped)
        {
            modelParams.load_mode = LLamaLoadMode.None;   // read the file into memory: no mmap
            modelParams.use_extra_bufts = false;          // no repacked (AMX/"CPU_REPACK") weight layouts: plain ggml CPU path
        }
        ModelPath = Path.GetFullPath(modelPath);
        _model = SafeLlamaModelHandle.LoadFromFile(ModelPath, modelParams);

        try
        {
            var contextParams = LLamaContextParams.Default();
            contextParams.n_ctx = (uint)contextSize;
            contextParams.n_batch = (uint)contextSize;              // a whole context fits in one llama_decode
            contextParams.n_ubatch = (uint)Math.Min(contextSize, 512);
            contextParams.n_seq_max = 1;
            contextParams.n_threads = threads;
            contextParams.n_threads_batch = threads;
            if (!asShipped)
            {
                contextParams.type_k = GGMLType.GGML_TYPE_F32;          // llama.cpp default is F16
                contextParams.type_v = GGMLType.GGML_TYPE_F32;
                contextParams.llama_flash_attn_type = LLamaFlashAttentionType.LLAMA_FLASH_ATTENTION_TYPE_DISABLED;
            }
            contextParams.offload_kqv = false;
            contextParams.op_offload = false;
            contextParams.embeddings = false;
            contextParams.no_perf = true;
            _context = SafeLLamaContextHandle.Create(_model, contextParams);
        }
        catch
        {
            _model.Dispose();
            throw;
        }

        var vocab = _model.Vocab;
        VocabSize = vocab.Count;
        BosToken = vocab.BOS is { } bos ? (int)bos : -1;
        EosToken = vocab.EOS is { } eos ? (int)eos : -1;
        ContextSize = (int)_context.ContextSize;
        BatchSize = (int)_context.BatchSize;
        ModelDescription = _model.Description;
    }

    /// <summary>Full path of the loaded GGUF file.</summary>
    public string ModelPath { get; }

    /// <summary>llama.cpp's model description (architecture, size, file type).</summary>
    public string ModelDescription { get; }

    /// <summary>Number of tokens in the vocabulary (= length of every logits row).</summary>
    public int VocabSize { get; }

    /// <summary>Beginning-of-sequence token id, or -1 (LLAMA_TOKEN_NULL) when the model has none.</summary>
    public int BosToken { get; }

    /// <summary>End-of-sequence token id, or -1 (LLAMA_TOKEN_NULL) when the model has none.</summary>
    public int EosToken { get; }

    /// <summary>Context size actually granted by llama.cpp (maximum tokens per sequence).</summary>
    public int ContextSize { get; }

    /// <summary>Logical batch size (maximum tokens per llama_decode call).</summary>
    public int BatchSize { get; }

    /// <summary>llama.cpp's <c>llama_print_system_info()</c> string (compiled CPU features).</summary>
    public static string SystemInfo { get { EnsureBackend(); return s_systemInfo; } }

    /// <summary>Which LLamaSharp native variant was loaded (e.g. the AVX-512 CPU build).</summary>
    public static string NativeLibrary { get { EnsureBackend(); return s_nativeLibrary; } }

    /// <summary>llama.cpp's own tokenizer (<c>llama_tokenize</c>) on the UTF-8 bytes of <paramref name="text"/>.</summary>
    /// <param name="addBos">add_special: prepend BOS (and whatever else the vocab adds) as llama.cpp decides.</param>
    /// <param name="parseSpecial">parse_special: recognise special/control token text such as "&lt;s&gt;".</param>
    public int[] Tokenize(string text, bool addBos, bool parseSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        lock (_gate)
        {
            ThrowIfDisposed();
            var tokens = _model.Tokenize(text, addBos, parseSpecial, Encoding.UTF8);
            var result = new int[tokens.Length];
            for (var i = 0; i < tokens.Length; i++) result[i] = (int)tokens[i];
            return result;
        }
    }

    /// <summary>Raw bytes of llama.cpp's <c>llama_token_to_piece</c> for one token (lstrip 0).</summary>
    /// <param name="special">render special/control tokens (e.g. BOS as "&lt;s&gt;"); when false they yield no bytes.</param>
    public byte[] TokenPiece(int token, bool special = false)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            CheckToken(token);
            Span<byte> small = stackalloc byte[64];
            var n = (int)_model.TokenToSpan(token, small, 0, special);
            if (n <= small.Length) return small[..n].ToArray();
            var big = new byte[n];
            var m = (int)_model.TokenToSpan(token, big, 0, special);
            if (m != n) throw new InvalidOperationException($"llama_token_to_piece returned {m} bytes after asking for {n}.");
            return big;
        }
    }

    /// <summary>llama.cpp's <c>llama_vocab_is_control</c>: the token's attributes after the loader's promotions.</summary>
    public bool IsControl(int token)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            CheckToken(token);
            return ((LLamaToken)token).IsControl(_model.Vocab);
        }
    }

    /// <summary>llama.cpp's <c>llama_vocab_is_eog</c>: whether the token ends generation.</summary>
    public bool IsEndOfGeneration(int token)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            CheckToken(token);
            return ((LLamaToken)token).IsEndOfGeneration(_model.Vocab);
        }
    }

    /// <summary>
    /// llama.cpp's <c>llama_detokenize</c>, UTF-8 decoded. llama.cpp semantics: control tokens render as nothing unless
    /// <paramref name="unparseSpecial"/>; SentencePiece's prefix space is stripped from the first token only when that
    /// token is not BOS (so BOS + "Once" gives " Once", "Once" alone gives "Once"), even with <paramref name="removeSpecial"/>.
    /// </summary>
    public string Detokenize(IEnumerable<int> tokens, bool removeSpecial = false, bool unparseSpecial = false)
        => Encoding.UTF8.GetString(DetokenizeBytes(tokens, removeSpecial, unparseSpecial));

    /// <summary>Raw bytes produced by llama.cpp's <c>llama_detokenize</c>.</summary>
    public unsafe byte[] DetokenizeBytes(IEnumerable<int> tokens, bool removeSpecial = false, bool unparseSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var ids = tokens.ToArray();
        lock (_gate)
        {
            ThrowIfDisposed();
            foreach (var t in ids) CheckToken(t);
            if (DetokenizeMethod is null || VocabNativeProperty is null)
                throw new MissingMethodException("LLamaSharp 0.30.0 internals NativeApi.llama_detokenize / Vocabulary.VocabNative not found.");
            var vocab = VocabNativeProperty.GetValue(_model.Vocab); // boxed LLamaVocabNative*
            var capacity = Math.Max(64, ids.Length * 16);
            for (var attempt = 0; attempt < 2; attempt++)
            {
                var buffer = new byte[capacity];
                int written;
                fixed (int* pTokens = ids)
                fixed (byte* pText = buffer)
                {
                    written = (int)DetokenizeMethod.Invoke(null,
                    [
                        vocab,
                        Pointer.Box(pTokens, typeof(LLamaToken*)),
                        ids.Length,
                        Pointer.Box(pText, typeof(byte*)),
                        buffer.Length,
                        removeSpecial,
                        unparseSpecial,
                    ])!;
                }
                if (written >= 0) return buffer.AsSpan(0, written).ToArray();
                capacity = -written;
            }
            throw new InvalidOperationException("llama_detokenize kept asking for a larger buffer.");
        }
    }

    /// <summary>
    /// Feeds <paramref name="tokens"/> (positions 0..n-1, sequence 0, empty KV cache) with logits requested for every
    /// position and returns a copy of the vocabulary logits at each position.
    /// </summary>
    /// <param name="maxBatch">tokens per <c>llama_decode</c> call; 0 = <see cref="BatchSize"/>, 1 = one token at a time.</param>
    public float[][] LogitsForAllPositions(int[] tokens, int maxBatch = 0)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Length == 0) return [];
        ArgumentOutOfRangeException.ThrowIfNegative(maxBatch);
        var step = maxBatch == 0 ? BatchSize : Math.Min(maxBatch, BatchSize);
        lock (_gate)
        {
            ThrowIfDisposed();
            CheckSequence(tokens, tokens.Length);
            _context.MemoryClear(true);
            var result = new float[tokens.Length][];
            for (var start = 0; start < tokens.Length; start += step)
            {
                var n = Math.Min(step, tokens.Length - start);
                _batch.Clear();
                for (var j = 0; j < n; j++)
                    _batch.Add(tokens[start + j], start + j, LLamaSeqId.Zero, logits: true);
                Decode();
                for (var j = 0; j < n; j++)
                    result[start + j] = _context.GetLogitsIth(j).ToArray();
            }
            return result;
        }
    }

    /// <summary>
    /// Greedy decoding: feeds <paramref name="promptTokens"/> (empty KV cache), then repeatedly takes the argmax of the
    /// raw logits (ties go to the lowest token id; no sampler involved) and feeds it back, one token at a time.
    /// Returns only the generated tokens. With <paramref name="stopAtEos"/>, generation stops after the first
    /// end-of-generation token (EOS/EOT per llama.cpp), which is included as the last element.
    /// </summary>
    public int[] GreedyContinuation(int[] promptTokens, int count, bool stopAtEos = false)
    {
        ArgumentNullException.ThrowIfNull(promptTokens);
        if (promptTokens.Length == 0) throw new ArgumentException("The prompt must contain at least one token.", nameof(promptTokens));
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0) return [];
        lock (_gate)
        {
            ThrowIfDisposed();
            // The last generated token is never fed back, so the KV cache holds prompt + count - 1 tokens.
            CheckSequence(promptTokens, promptTokens.Length + count - 1);
            _context.MemoryClear(true);

            var lastIndex = 0;
            for (var start = 0; start < promptTokens.Length; start += BatchSize)
            {
                var n = Math.Min(BatchSize, promptTokens.Length - start);
                _batch.Clear();
                for (var j = 0; j < n; j++)
                {
                    var isLast = start + j == promptTokens.Length - 1;
                    _batch.Add(promptTokens[start + j], start + j, LLamaSeqId.Zero, logits: isLast);
                    if (isLast) lastIndex = j;
                }
                Decode();
            }

            var generated = new List<int>(count);
            var position = promptTokens.Length;
            var vocab = _model.Vocab;
            while (true)
            {
                var next = ArgMax(_context.GetLogitsIth(lastIndex));
                generated.Add(next);
                if (generated.Count == count) break;
                if (stopAtEos && ((LLamaToken)next).IsEndOfGeneration(vocab)) break;
                _batch.Clear();
                _batch.Add(next, position++, LLamaSeqId.Zero, logits: true);
                lastIndex = 0;
                Decode();
            }
            return generated.ToArray();
        }
    }

    /// <summary>
    /// Decodes <paramref name="tokens"/> one per <c>llama_decode</c> from an empty cache, computing the logits of
    /// every position but copying none: the batch-1 decode loop that benchmarks time.
    /// </summary>
    public void EvaluateOneByOne(int[] tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        lock (_gate)
        {
            ThrowIfDisposed();
            CheckSequence(tokens, tokens.Length);
            _context.MemoryClear(true);
            for (var i = 0; i < tokens.Length; i++)
            {
                _batch.Clear();
                _batch.Add(tokens[i], i, LLamaSeqId.Zero, logits: true);
                Decode();
            }
        }
    }

    /// <summary>
    /// Decodes <paramref name="tokens"/> as one prompt from an empty cache (in batches of <see cref="BatchSize"/>),
    /// computing only the last position's logits: the prompt processing (prefill) that benchmarks time.
    /// </summary>
    public void EvaluatePrompt(int[] tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        lock (_gate)
        {
            ThrowIfDisposed();
            CheckSequence(tokens, tokens.Length);
            _context.MemoryClear(true);
            for (var start = 0; start < tokens.Length; start += BatchSize)
            {
                var n = Math.Min(BatchSize, tokens.Length - start);
                _batch.Clear();
                for (var j = 0; j < n; j++) _batch.Add(tokens[start + j], start + j, LLamaSeqId.Zero, logits: start + j == tokens.Length - 1);
                Decode();
            }
        }
    }

    /// <summary>
    /// llama.cpp's quantizer (<c>llama_model_quantize</c> with its default parameters, as the <c>llama-quantize</c>
    /// tool runs: output tensor quantized, no importance matrix, no requantizing, one thread) writing
    /// <paramref name="output"/> from <paramref name="input"/> as <paramref name="fileType"/> ("q8_0", "q4_0" or "q4_k_m").
    /// A refusal throws <see cref="InvalidOperationException"/> carrying llama.cpp's error lines.
    /// </summary>
    public static void Quantize(string input, string output, string fileType)
    {
        EnsureBackend();
        var parameters = LLamaModelQuantizeParams.Default();
        parameters.nthread = 1;
        parameters.ftype = fileType switch
        {
            "q8_0" => LLamaFtype.MOSTLY_Q8_0,
            "q4_0" => LLamaFtype.MOSTLY_Q4_0,
            "q4_k_m" => LLamaFtype.MOSTLY_Q4_K_M,
            _ => throw new ArgumentException($"Unsupported file type '{fileType}'.", nameof(fileType)),
        };
        t_errors = new StringBuilder();
        try
        {
            var rc = NativeApi.llama_model_quantize(input, output, ref parameters);
            if (rc != 0) throw new InvalidOperationException($"llama_model_quantize failed ({rc}): {t_errors.ToString().Trim()}");
        }
        finally
        {
            t_errors = null;
        }
    }

    /// <summary>
    /// llama.cpp's <c>llama_chat_apply_template</c>: <paramref name="template"/> is a built-in template's name or a
    /// Jinja template whose family llama.cpp detects (null: "chatml"). Returns null where llama.cpp refuses (-1).
    /// </summary>
    public static unsafe string? ApplyChatTemplate(string? template, IReadOnlyList<(string Role, string Content)> messages, bool addAssistant)
    {
        ArgumentNullException.ThrowIfNull(messages);
        EnsureBackend();
        var handles = new List<GCHandle>();
        try
        {
            byte* Pin(string s)
            {
                var bytes = Encoding.UTF8.GetBytes(s + "\0");
                var handle = GCHandle.Alloc(bytes, GCHandleType.Pinned);
                handles.Add(handle);
                return (byte*)handle.AddrOfPinnedObject();
            }

            var chat = new LLamaChatMessage[messages.Count];
            for (var i = 0; i < messages.Count; i++)
            {
                chat[i].role = Pin(messages[i].Role);
                chat[i].content = Pin(messages[i].Content);
            }
            var tmpl = template is null ? null : Pin(template);
            var capacity = 256 + messages.Sum(m => Encoding.UTF8.GetByteCount(m.Content) + m.Role.Length) * 2;
            for (var attempt = 0; attempt < 2; attempt++)
            {
                var buffer = new byte[capacity];
                int written;
                fixed (LLamaChatMessage* pChat = chat)
                fixed (byte* pBuffer = buffer)
                {
                    written = NativeApi.llama_chat_apply_template(tmpl, pChat, (nuint)chat.Length, addAssistant, pBuffer, buffer.Length);
                }
                if (written < 0) return null;
                if (written <= buffer.Length) return Encoding.UTF8.GetString(buffer, 0, written);
                capacity = written;
            }
            throw new InvalidOperationException("llama_chat_apply_template kept asking for a larger buffer.");
        }
        finally
        {
            foreach (var handle in handles) handle.Free();
        }
    }

    /// <summary>The names of llama.cpp's built-in chat templates (<c>llama_chat_builtin_templates</c>).</summary>
    public static unsafe string[] BuiltInChatTemplates()
    {
        EnsureBackend();
        var count = NativeApi.llama_chat_builtin_templates(null, 0);
        var names = new nint[count];
        fixed (nint* p = names) NativeApi.llama_chat_builtin_templates((char**)p, (nuint)count);
        return Array.ConvertAll(names, n => Marshal.PtrToStringUTF8(n) ?? "");
    }

    /// <summary>Index of the largest value; ties go to the lowest index; NaN is an error.</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        if (logits.IsEmpty) throw new ArgumentException("Empty logits.", nameof(logits));
        var best = 0;
        var bestValue = logits[0];
        if (float.IsNaN(bestValue)) throw new InvalidOperationException("NaN logit at index 0.");
        for (var i = 1; i < logits.Length; i++)
        {
            var v = logits[i];
            if (float.IsNaN(v)) throw new InvalidOperationException($"NaN logit at index {i}.");
            if (v > bestValue) { bestValue = v; best = i; }
        }
        return best;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _context.Dispose();
            _model.Dispose();
        }
    }

    private void Decode()
    {
        var rc = _context.Decode(_batch);
        if (rc != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode failed: {rc} ({(int)rc}).");
    }

    private void CheckToken(int token)
    {
        if ((uint)token >= (uint)VocabSize)
            throw new ArgumentOutOfRangeException(nameof(token), token, $"Token id outside the vocabulary [0, {VocabSize}).");
    }

    private void CheckSequence(int[] tokens, int kvTokens)
    {
        foreach (var t in tokens) CheckToken(t);
        if (kvTokens > ContextSize)
            throw new ArgumentException($"{kvTokens} tokens do not fit the context of {ContextSize}; open the oracle with a larger contextSize.");
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private static void EnsureBackend()
    {
        lock (BackendLock)
        {
            if (s_backendReady) return;
            if (!NativeLibraryConfig.LLama.LibraryHasLoaded)
            {
                try
                {
                    // CPU package only: skip the CUDA/Vulkan probes. The AVX level is auto-detected (AVX-512 on Zen 4/5).
                    NativeLibraryConfig.All.WithCuda(false).WithVulkan(false).WithLogCallback(LogCallback);
                }
                catch (InvalidOperationException)
                {
                    // Someone else loaded the library in between: keep their configuration.
                }
            }
            // Touching NativeApi runs its static constructor: registers the DllImport resolver, loads the native
            // library and calls llama_backend_init exactly once per process. It must precede any *.Default() call.
            NativeApi.llama_empty_call();
            NativeLogConfig.llama_log_set(LogCallback);
            s_systemInfo = Marshal.PtrToStringUTF8(NativeApi.llama_print_system_info())?.Trim() ?? "";
            s_nativeLibrary = NativeApi.GetLoadedNativeLibrary(NativeLibraryName.LLama)?.Metadata?.ToString() ?? "(unknown)";
            s_backendReady = true;
        }
    }

    private static void OnNativeLog(LLamaLogLevel level, string message)
    {
        if (level == LLamaLogLevel.Continue) level = t_lastLogLevel;
        else t_lastLogLevel = level;
        if (level == LLamaLogLevel.Error) t_errors?.Append(message);
        if (level is LLamaLogLevel.Warning or LLamaLogLevel.Error && t_errors is null) Console.Error.Write(message);
    }
}
