
namespace Abi.Engine.Process;

/// <summary>
/// Makes the engine's failure points fail on purpose, nth-call style like the kernel's fail_nth:
/// with <see cref="FailNth"/> = n, the n-th failure point reached fails (ENOMEM) and the rest
/// succeed. A sweep over n = 1, 2, ... runs a scenario failing each point in turn; every failure
/// must return an errno and leave the engine's state as it was.
/// </summary>
public sealed class FaultInjection
{
    private int _reached;

    /// <summary>Which failure point to fail (1-based); 0 turns injection off.</summary>
    public int FailNth { get; set; }

    /// <summary>How many failure points were reached since <see cref="FailNth"/> was last set or <see cref="Reset"/> called.</summary>
    public int Reached => _reached;

    /// <summary>The name of the point that was failed, if one was.</summary>
    public string? FailedPoint { get; private set; }

    /// <summary>Starts counting again.</summary>
    public void Reset()
    {
        _reached = 0;
        FailedPoint = null;
    }

    /// <summary>Called at each failure point; true when this one is to fail.</summary>
    internal bool ShouldFail(string point)
    {
        if (FailNth == 0)
        {
            return false;
        }

        if (Interlocked.Increment(ref _reached) != FailNth)
        {
            return false;
        }

        FailedPoint = point;
        return true;
    }
}
