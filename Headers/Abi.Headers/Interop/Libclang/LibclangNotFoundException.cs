namespace Abi.Headers.Interop.Libclang;

/// <summary>libclang could not be loaded. The message says what was tried and how to fix it.</summary>
public sealed class LibclangNotFoundException : Exception
{
    public LibclangNotFoundException()
    {
    }

    public LibclangNotFoundException(string message)
        : base(message + "; restore the NuGet package libclang.runtime.linux-x64 (Abi.Headers references it; the AbiHeader targets take it from the NuGet cache), set LIBCLANG_PATH to a libclang shared library (14 or later), or install Debian's libclang1-14 (apt-get install libclang1-14)")
    {
    }

    public LibclangNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
