namespace Abi.Runtime.Pci;

/// <summary>Opening a PCI function through VFIO failed for a reason met in the field; the message says what to do about it.</summary>
public sealed class VfioSetupException : Exception
{
    /// <summary>Setup failed for an unknown reason.</summary>
    public VfioSetupException()
    {
    }

    /// <summary>Setup failed as <paramref name="message"/> says.</summary>
    public VfioSetupException(string message)
        : base(message)
    {
    }

    /// <summary>Setup failed as <paramref name="message"/> says, because of <paramref name="innerException"/>.</summary>
    public VfioSetupException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
