namespace Abi.Runtime.Kernel;

/// <summary>A backend that traps some device regions instead of mapping them (the engine).</summary>
public interface IMmioProvider
{
    /// <summary>The handler for <paramref name="length"/> bytes at <paramref name="offset"/> of device fd <paramref name="fd"/>, if that region is trapped.</summary>
    bool TryGetMmioHandler(int fd, long offset, long length, out IMmioHandler? handler);
}
