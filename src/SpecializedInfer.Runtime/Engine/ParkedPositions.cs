namespace SpecializedInfer.Engine;

/// <summary>
/// KV strategy <c>recompute</c> (EE-LLM), for every executor: generated tokens that stopped before the last step park
/// their hidden state here with the first step they have not run; before any later token runs step s,
/// <see cref="CatchUp"/> runs every parked position's missing steps up to and including s. Order: position-major
/// (lowest position first, each through its missing steps in order). A position's step t attends over step t's cache
/// at positions at or below it, which are complete by then (lower parked positions have just caught up), so this gives
/// the same numbers as step-major order. Nothing allocates except when the session's context grows (<see cref="EnsurePositions"/>).
/// </summary>
public sealed class ParkedPositions
{
    /// <summary>Runs schedule step <paramref name="step"/> for the parked <paramref name="position"/> on its state, in place.</summary>
    public delegate void StepRunner(int step, int position, Span<float> state);

    private readonly int _dim, _steps;
    private float[] _states; // [position][dim]
    private int[] _next;     // per position: the first step it has not run
    private int[] _parked;   // parked positions, ascending
    private int _count;

    /// <param name="positions">positions the session holds now (<see cref="EnsurePositions"/> grows it with the session)</param>
    /// <param name="dim">hidden state width</param>
    /// <param name="steps">schedule steps</param>
    public ParkedPositions(int positions, int dim, int steps)
    {
        _dim = dim;
        _steps = steps;
        _states = new float[(long)positions * dim];
        _next = new int[positions];
        _parked = new int[positions];
    }

    /// <summary>Bytes held per position (for <see cref="ContextCapacity.EnsureFits(int,long,int,string)"/>).</summary>
    public static long BytesPerPosition(int dim) => (long)dim * sizeof(float) + 2 * sizeof(int);

    /// <summary>Makes room for positions up to <paramref name="positions"/> − 1, keeping what is parked.</summary>
    public void EnsurePositions(int positions)
    {
        if (positions <= _next.Length) return;
        Array.Resize(ref _states, checked(positions * _dim));
        Array.Resize(ref _next, positions);
        Array.Resize(ref _parked, positions);
    }

    /// <summary>Positions still missing steps.</summary>
    public int Count => _count;

    /// <summary>
    /// The token at <paramref name="position"/> stopped before step <paramref name="nextStep"/> with <paramref name="state"/>.
    /// Positions park in ascending order (a session's positions only grow between rewinds).
    /// </summary>
    public void Park(int position, int nextStep, ReadOnlySpan<float> state)
    {
        if (nextStep <= 0 || nextStep >= _steps)
            throw new ArgumentOutOfRangeException($"A parked position has run some steps but not all {_steps}; {nextStep} is not such a step.", innerException: null);
        if (_count > 0 && _parked[_count - 1] >= position)
            throw new InvalidOperationException($"Position {position} parks after position {_parked[_count - 1]}; rewind first.");
        state.CopyTo(State(position));
        _next[position] = nextStep;
        _parked[_count++] = position;
    }

    /// <summary>The first step a parked position has not run yet.</summary>
    public int NextStep(int position) => _next[position];

    /// <summary>
    /// Before a token runs <paramref name="step"/>: every parked position that has not run it runs its missing steps up to
    /// it through <paramref name="run"/>; positions that have run every step leave. Returns the steps run (for
    /// <see cref="SessionStatistics.RecordRecomputed"/>).
    /// </summary>
    public int CatchUp(int step, StepRunner run)
    {
        var ran = 0;
        var kept = 0;
        for (var n = 0; n < _count; n++)
        {
            var p = _parked[n];
            if (_next[p] <= step)
            {
                var state = State(p);
                for (var s = _next[p]; s <= step; s++)
                {
                    run(s, p, state);
                    _next[p] = s + 1;
                    ran++;
                }
            }
            if (_next[p] < _steps) _parked[kept++] = p;
        }
        _count = kept;
        return ran;
    }

    /// <summary>Drops the parked positions at or past <paramref name="position"/>, gone with their tokens.</summary>
    public void Rewind(int position)
    {
        while (_count > 0 && _parked[_count - 1] >= position) _count--;
    }

    private Span<float> State(int position) => _states.AsSpan(position * _dim, _dim);
}
