using SpecializedInfer.Engine;

namespace SpecializedInfer.Analysis;

/// <summary>
/// The residual stream of one sequence through a reference engine: per position, the state entering step 0 (the token
/// embedding) and the state leaving every step, so state i enters step i and state S leaves the last step.
/// </summary>
public sealed class HiddenStates : ILayerObserver
{
    private readonly int _dim, _steps;
    private float[] _states = [];

    private HiddenStates(int dim, int steps)
    {
        _dim = dim;
        _steps = steps;
    }

    /// <summary>Positions recorded.</summary>
    public int Positions { get; private set; }

    /// <summary>States per position: the schedule's steps plus one.</summary>
    public int StatesPerPosition => _steps + 1;

    /// <summary>State <paramref name="index"/> (0: entering step 0) at <paramref name="position"/>.</summary>
    public ReadOnlySpan<float> State(int position, int index) => _states.AsSpan((position * (_steps + 1) + index) * _dim, _dim);

    /// <summary>Runs <paramref name="tokens"/> through <paramref name="engine"/> (a fresh session) and records every state.</summary>
    public static HiddenStates Record(ReferenceEngine engine, ReadOnlySpan<int> tokens)
    {
        var states = new HiddenStates(engine.Config.Dim, engine.Schedule.Steps.Count);
        states.Run(engine, tokens);
        return states;
    }

    private void Run(ReferenceEngine engine, ReadOnlySpan<int> tokens)
    {
        Positions = tokens.Length;
        _states = new float[(long)tokens.Length * (_steps + 1) * _dim];
        for (var t = 0; t < tokens.Length; t++) engine.Weights.TokenEmbedding.Row(tokens[t]).CopyTo(Slot(t, 0));
        using var session = engine.CreateSession(tokens.Length);
        session.Observer = this;
        session.Forward(tokens);
    }

    void ILayerObserver.OnLayerOutput(int position, int step, int layer, ReadOnlySpan<float> hidden) => hidden.CopyTo(Slot(position, step + 1));

    private Span<float> Slot(int position, int index) => _states.AsSpan((position * (_steps + 1) + index) * _dim, _dim);

    /// <summary>cos(a, b) with the sums in double precision (each float product is exact in double).</summary>
    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, aa = 0, bb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            aa += (double)a[i] * a[i];
            bb += (double)b[i] * b[i];
        }
        return dot / (Math.Sqrt(aa) * Math.Sqrt(bb));
    }

    /// <summary>Gromov et al.'s angular distance arccos(cos)/π, in [0, 1].</summary>
    public static double Angular(double cosine) => Math.Acos(Math.Clamp(cosine, -1.0, 1.0)) / Math.PI;
}

/// <summary>
/// Sums over tokens of cos(x_i, x_j) and of the angular distance between every two states i &lt; j of the residual
/// stream, over all tokens and over the last token of each sequence.
/// </summary>
public sealed class StateGeometry
{
    private readonly int _states;
    private readonly double[] _cosAll, _angleAll, _cosLast, _angleLast;

    public StateGeometry(int states)
    {
        _states = states;
        _cosAll = new double[states * states];
        _angleAll = new double[states * states];
        _cosLast = new double[states * states];
        _angleLast = new double[states * states];
    }

    public long Tokens { get; private set; }
    public int Sequences { get; private set; }

    public void Add(HiddenStates sequence)
    {
        for (var t = 0; t < sequence.Positions; t++)
        {
            var last = t == sequence.Positions - 1;
            for (var i = 0; i < _states; i++)
                for (var j = i + 1; j < _states; j++)
                {
                    var cos = HiddenStates.Cosine(sequence.State(t, i), sequence.State(t, j));
                    var angle = HiddenStates.Angular(cos);
                    _cosAll[i * _states + j] += cos;
                    _angleAll[i * _states + j] += angle;
                    if (!last) continue;
                    _cosLast[i * _states + j] += cos;
                    _angleLast[i * _states + j] += angle;
                }
        }
        Tokens += sequence.Positions;
        Sequences++;
    }

    /// <summary>Mean over all tokens of cos(x_i, x_j).</summary>
    public double MeanCosine(int i, int j) => _cosAll[i * _states + j] / Tokens;

    /// <summary>Mean over all tokens of the angular distance between x_i and x_j.</summary>
    public double MeanAngleAll(int i, int j) => _angleAll[i * _states + j] / Tokens;

    /// <summary>Mean over sequences of the last token's angular distance between x_i and x_j.</summary>
    public double MeanAngleLast(int i, int j) => _angleLast[i * _states + j] / Sequences;
}
