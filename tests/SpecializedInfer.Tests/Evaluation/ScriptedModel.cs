using SpecializedInfer.Engine;
using SpecializedInfer.Models;
using SpecializedInfer.Planning;

namespace SpecializedInfer.Tests.Evaluation;

/// <summary>
/// A language model that is not the reference engine: its next token is a function of the sequence so far
/// (logit 4 there, 0 elsewhere). Shows the harness needs only <see cref="ILanguageModel"/>, and lets tests
/// script EOS and disagreements.
/// </summary>
public sealed class ScriptedModel(int vocabSize, Func<IReadOnlyList<int>, int> next) : ILanguageModel
{
    public LlamaConfig Config { get; } = new()
    {
        Architecture = "llama", Dim = 8, HiddenDim = 8, Layers = 1, Heads = 1, KvHeads = 1, HeadDim = 8, RotaryDims = 8,
        RopeTheta = 10000, NormEps = 1e-5f, VocabSize = vocabSize, ContextLength = 512, TiedOutput = true,
    };

    public ExecutionSchedule Schedule { get; } = ExecutionSchedule.Full(1);
    public string Name => "scripted";

    public IInferenceSession CreateSession(int contextLength = 0) => new Session(this, contextLength > 0 ? contextLength : Config.ContextLength);

    public IInferenceSession CreateSession(SessionOptions options) => CreateSession(options.ContextLength);

    public void Dispose() { }

    private sealed class Session(ScriptedModel model, int contextLength) : IInferenceSession
    {
        private readonly List<int> _tokens = [];
        private readonly float[] _logits = new float[model.Config.VocabSize];

        public int Position => _tokens.Count;
        public int ContextLength => contextLength;
        public ILayerObserver? Observer { get; set; }
        public SessionStatistics Statistics { get; } = new(1);

        public ReadOnlySpan<float> Forward(int token)
        {
            Statistics.RecordGenerated(1, -1);
            return Append(token);
        }

        public ReadOnlySpan<float> Forward(ReadOnlySpan<int> tokens)
        {
            foreach (var t in tokens)
            {
                Statistics.RecordPrompt();
                Append(t);
            }
            return _logits;
        }

        private float[] Append(int token)
        {
            if (_tokens.Count >= contextLength) throw new InvalidOperationException("context full");
            _tokens.Add(token);
            Array.Clear(_logits);
            _logits[model.Next(_tokens)] = 4;
            return _logits;
        }

        public void Rewind(int position) => _tokens.RemoveRange(position, _tokens.Count - position);

        public void Dispose() { }
    }

    private int Next(IReadOnlyList<int> tokens) => next(tokens);
}
