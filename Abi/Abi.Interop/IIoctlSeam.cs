namespace Abi.Interop;

/// <summary>
/// The one call generated ioctl wrappers make: <c>ioctl(fd, request, argument)</c>. The runtime
/// serves it from the kernel or from the in-process engine; wrappers cannot tell which. It never
/// throws for a failed ioctl and never allocates: the result is the kernel's return value when
/// non-negative, or the negated errno.
/// </summary>
public interface IIoctlSeam
{
    /// <summary>Issues the ioctl.</summary>
    /// <param name="fd">The file descriptor.</param>
    /// <param name="request">The request code.</param>
    /// <param name="argument">The argument: a pointer to the argument struct, or an integer passed by value.</param>
    /// <returns>The non-negative result, or <c>-errno</c>.</returns>
    int Ioctl(int fd, uint request, nint argument);
}
