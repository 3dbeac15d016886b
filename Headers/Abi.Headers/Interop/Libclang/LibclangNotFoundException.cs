namespace Abi.Headers.Interop.Libclang;

/// <summary>libclang could not be loaded. The message says what was tried and how to fix it.</summary>
public sealed class LibclangNotFoundException : Exception
{
    public LibclangNotFoundException()
    {
    }

    public LibclangNotFoundException(string message)
        : base(message + "; install Debian's libclang1-14 (apt-get install libclang1-14) or set LIBCLANG_PATH to a libclang 14-19 shared library")
    {
    }

    public LibclangNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
