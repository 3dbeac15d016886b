namespace Abi.Runtime.Kernel;

/// <summary>
/// A device region whose accesses are trapped rather than backed by memory: the engine's emulated
/// BARs implement it, so that a register write reaches the device model when it happens. A real
/// BAR has no handler; its accesses are plain volatile loads and stores.
/// </summary>
public interface IMmioHandler
{
    /// <summary>Reads <paramref name="size"/> (1, 2, 4 or 8) bytes at <paramref name="offset"/>.</summary>
    ulong Read(long offset, int size);

    /// <summary>Writes the low <paramref name="size"/> bytes of <paramref name="value"/> at <paramref name="offset"/>.</summary>
    void Write(long offset, int size, ulong value);
}
