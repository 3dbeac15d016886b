namespace Abi.Model;

/// <summary>Where an ioctl's argument and direction were taken from.</summary>
public enum IoctlSource
{
    /// <summary>From the request number itself (<c>_IOR/_IOW/_IOWR</c> encode size and direction).</summary>
    Encoding,

    /// <summary>From the header's kernel-doc comment.</summary>
    KernelDoc,

    /// <summary>From the checked-in override table, because the comment is silent or wrong.</summary>
    Override,
}
