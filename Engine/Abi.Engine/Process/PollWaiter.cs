namespace Abi.Engine.Process;

/// <summary>One blocking poll call's entry on the wait queues of the files it waits for (poll_wqueues).</summary>
internal sealed class PollWaiter : IDisposable
{
    private readonly ManualResetEventSlim _woken = new(false);

    public void Wake() => _woken.Set();

    /// <summary>Waits up to <paramref name="milliseconds"/> (-1: without end) for a wake; cleared after, so a wake that comes while the files are asked again is not lost.</summary>
    public void Wait(int milliseconds)
    {
        _woken.Wait(milliseconds);
        _woken.Reset();
    }

    public void Dispose() => _woken.Dispose();
}
