namespace Abi.Model;

/// <summary>Which way an ioctl's argument travels.</summary>
public enum IoctlDirection
{
    /// <summary>No argument, or the argument is passed by value.</summary>
    None,

    /// <summary>The kernel reads the argument (<c>_IOW</c>).</summary>
    In,

    /// <summary>The kernel writes the argument (<c>_IOR</c>).</summary>
    Out,

    /// <summary>The kernel reads and writes the argument (<c>_IOWR</c>).</summary>
    InOut,
}
