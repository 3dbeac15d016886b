namespace Abi.Engine;

/// <summary>What became of a load or store that faulted in a trapped BAR mapping (<see cref="EmulatedKernel.MmioAccess"/>).</summary>
public enum MmioResult
{
    /// <summary>The device model performed it.</summary>
    Performed,

    /// <summary>No trapped mapping covers the address: the fault is the program's own.</summary>
    NotTrapped,

    /// <summary>The device does not decode it now (memory decoding off, or low power): the kernel's answer is SIGBUS.</summary>
    BusError,
}
