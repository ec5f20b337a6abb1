using SpecializedInfer.Models;
using SpecializedInfer.Planning;
using SpecializedInfer.Planning.Decisions;

namespace SpecializedInfer.Engine;

/// <summary>Decides from the first engine's logits whether its answer stands.</summary>
public delegate bool CascadeAcceptance(ReadOnlySpan<float> logits);

/// <summary>
/// Two engines over one vocabulary: the first (cheap: pruned, shallow, early-exiting) answers each generated
/// token when <see cref="Acceptance"/> passes on its logits; otherwise the second (the full model) answers. The first
/// engine sees every token. The second catches up lazily: tokens it has not seen are evaluated as one prompt chunk
/// when it is next needed, so its cache is always exactly what running every token through it would give.
/// </summary>
public sealed class Cascade : ILanguageModel
{
    public Cascade(ILanguageModel first, ILanguageModel second, CascadeAcceptance acceptance)
    {
        if (first.Config.VocabSize != second.Config.VocabSize)
            throw new ArgumentException($"A cascade needs one vocabulary: {first.Config.VocabSize} vs {second.Config.VocabSize} tokens.");
        First = first;
        Second = second;
        Acceptance = acceptance;
    }

    /// <summary>Accepts the first engine's answer when its largest softmax probability reaches <paramref name="threshold"/>.</summary>
    public static CascadeAcceptance MaxProbability(double threshold) => Accept(ExitTest.Of(ExitCriterion.MaxProbability, threshold));

    /// <summary>
    /// Accepts the first engine's answer when an exit test on its logits passes, measured exactly as an exit point
    /// measures it (<see cref="ExitMeasures"/>): <c>maxProbability</c>, <c>margin</c>, <c>entropy</c>, or an ensemble
    /// of those. Tests that need hidden states or earlier exit points cannot judge final logits and are refused.
    /// </summary>
    public static CascadeAcceptance Accept(ExitTest test)
    {
        var condition = ConditionBuilder.OnLogitsOnly(test);
        return logits => Interpreter(logits.Length).Passes(condition, default, logits);
    }

    // Acceptance delegates may be shared by sessions on several threads; each thread keeps its own interpreter (its scratch).
    [ThreadStatic] private static ConditionInterpreter? _interpreter;

    private static ConditionInterpreter Interpreter(int vocabSize)
    {
        if (_interpreter is null || _interpreter.VocabSize < vocabSize) _interpreter = new ConditionInterpreter(vocabSize, 0, 0, [], 0);
        return _interpreter;
    }

    public ILanguageModel First { get; }
    public ILanguageModel Second { get; }
    public CascadeAcceptance Acceptance { get; }
    public LlamaConfig Config => Second.Config;
    public ExecutionSchedule Schedule => Second.Schedule;
    public string Name => $"cascade({First.Name} → {Second.Name})";

    public IInferenceSession CreateSession(int contextLength = 0) => CreateSession(new SessionOptions { ContextLength = contextLength });

    /// <summary>Both engines' sessions are made with <paramref name="options"/> (they run one after the other, so each may use every thread).</summary>
    public IInferenceSession CreateSession(SessionOptions options) => new CascadeSession(this, options);

    /// <summary>The engines are owned by the caller.</summary>
    public void Dispose() { }
}

/// <summary>A cascade's sequence state: both engines' sessions and the tokens the second has yet to see.</summary>
public sealed class CascadeSession : IInferenceSession
{
    private readonly Cascade _cascade;
    private readonly IInferenceSession _first, _second;
    private readonly int[] _pending;
    private int _pendingCount;

    internal CascadeSession(Cascade cascade, SessionOptions options)
    {
        _cascade = cascade;
        _first = cascade.First.CreateSession(options);
        _second = cascade.Second.CreateSession(options);
        ContextLength = Math.Min(_first.ContextLength, _second.ContextLength);
        _pending = new int[ContextLength];
        // Steps counted per generated token: the first engine's, plus the second's full schedule on a hand-off.
        Statistics = new SessionStatistics(cascade.First.Schedule.Steps.Count + cascade.Second.Schedule.Steps.Count);
    }

    public int Position => _first.Position;
    public int ContextLength { get; }
    public SessionStatistics Statistics { get; }

    /// <summary>Generated tokens the first engine answered.</summary>
    public long AnsweredByFirst { get; private set; }

    /// <summary>Generated tokens handed to the second engine.</summary>
    public long AnsweredBySecond { get; private set; }

    /// <summary>The second engine's session (its cache covers every token up to its own position).</summary>
    public IInferenceSession SecondSession => _second;

    public ILayerObserver? Observer
    {
        get => _second.Observer;
        set => _first.Observer = _second.Observer = value;
    }

    public ReadOnlySpan<float> Forward(ReadOnlySpan<int> tokens)
    {
        // The prompt goes to the first engine now; the second reads it when first needed.
        var logits = _first.Forward(tokens);
        foreach (var t in tokens) _pending[_pendingCount++] = t;
        for (var i = 0; i < tokens.Length; i++) Statistics.RecordPrompt();
        if (_cascade.Acceptance(logits)) return logits;
        return CatchUp();
    }

    public ReadOnlySpan<float> Forward(int token)
    {
        var stepsBefore = _first.Statistics.GeneratedSteps;
        var logits = _first.Forward(token);
        var firstSteps = (int)(_first.Statistics.GeneratedSteps - stepsBefore);
        _pending[_pendingCount++] = token;
        if (_cascade.Acceptance(logits))
        {
            AnsweredByFirst++;
            Statistics.RecordGenerated(firstSteps, -1);
            return logits;
        }
        AnsweredBySecond++;
        Statistics.RecordGenerated(firstSteps + _cascade.Second.Schedule.Steps.Count, -1);
        return CatchUp();
    }

    /// <summary>Evaluates the tokens the second engine has not seen; returns its logits after the last.</summary>
    private ReadOnlySpan<float> CatchUp()
    {
        var logits = _second.Forward(_pending.AsSpan(0, _pendingCount));
        _pendingCount = 0;
        return logits;
    }

    public void Rewind(int position)
    {
        _first.Rewind(position);
        var secondKnown = _second.Position;
        if (position < secondKnown)
        {
            _second.Rewind(position);
            _pendingCount = 0;
        }
        else _pendingCount = position - secondKnown;
    }

    public void Dispose()
    {
        _first.Dispose();
        _second.Dispose();
    }
}
