using System;
using Abi.Generators.Helpers;
using Abi.Generators.Model;
using Abi.Model;
using TypeKind = Abi.Model.TypeKind;

namespace Abi.Generators;

public sealed partial class AbiGenerator
{
    internal static partial class Emitter
    {
        /// <summary>
        /// One wrapper type per fd kind. Each ioctl comes as <c>TryX</c>, which returns the errno, and
        /// <c>X</c>, which throws <c>IoctlException</c>. Struct arguments are taken by <c>ref</c> and their
        /// <c>size</c>/<c>argsz</c> is filled in; nothing allocates. Variable-length structs also take a
        /// caller's buffer, and <c>*_INFO</c> structs with a capability chain get the argsz-grow-and-retry query.
        /// </summary>
        public static string Ioctls(IoctlGroupSpec spec)
        {
            string kind = spec.FdKind.ToString().ToLowerInvariant();
            SourceWriter w = Begin(spec.Namespace, "System", "System.Runtime.CompilerServices", "Abi.Interop");
            w.Line(FormattableString.Invariant($"/// <summary>The ioctls of a {kind} fd, typed. Calls go through an <see cref=\"IIoctlSeam\"/>: the kernel or the engine.</summary>"));
            w.Open($"public readonly unsafe partial struct {spec.TypeName}");
            w.Line("private readonly IIoctlSeam _seam;");
            w.Line("private readonly int _fd;");
            w.Line();
            w.Line("/// <summary>Wraps <paramref name=\"fd\"/>, issuing its ioctls through <paramref name=\"seam\"/>.</summary>");
            w.Open($"public {spec.TypeName}(IIoctlSeam seam, int fd)")
                .Line("ArgumentNullException.ThrowIfNull(seam);")
                .Line("_seam = seam;")
                .Line("_fd = fd;")
                .Close();
            w.Line();
            w.Line("/// <summary>The file descriptor.</summary>");
            w.Line("public int Fd => _fd;");
            w.Line();
            w.Line("/// <summary>The seam the calls go through.</summary>");
            w.Line("public IIoctlSeam Seam => _seam;");
            foreach (IoctlSpec ioctl in spec.Ioctls)
            {
                w.Line();
                Ioctl(w, ioctl, kind);
            }

            w.Close();
            return w.ToString();
        }

        private static void Ioctl(SourceWriter w, IoctlSpec spec, string kind)
        {
            IoctlDecl ioctl = spec.Ioctl;
            string name = ioctl.Name;
            string request = $"unchecked((uint)Constants.{Naming.Identifier(name)})";
            string summary = FormattableString.Invariant($"{name} (0x{ioctl.Request:X}){(ioctl.Doc is null ? "." : ": " + ioctl.Doc.Summary)}");
            string direction = ioctl.Direction switch
            {
                IoctlDirection.In => "read by the kernel",
                IoctlDirection.Out => "written by the kernel",
                IoctlDirection.InOut => "read and written back by the kernel",
                _ => "passed by value",
            };
            string throwLine = $"if (errno != Errno.None) IoctlException.Throw(\"{name}\", \"{kind}\", errno);";

            switch (ioctl.Argument)
            {
                case IoctlArgKind.Struct:
                    string type = Naming.Identifier(ioctl.Struct!);
                    string fill = spec.SizeField is null ? string.Empty : $"arg.{spec.SizeField} = (uint)sizeof({type});";
                    Header(w, summary, $"<paramref name=\"arg\"/> is {direction}{(spec.SizeField is null ? string.Empty : $"; its {spec.SizeField} is set to sizeof({ioctl.Struct})")}.", spec.AbsentFrom);
                    w.Line("[MethodImpl(MethodImplOptions.AggressiveInlining)]");
                    w.Open($"public Errno Try{spec.MethodName}(ref {type} arg)");
                    if (fill.Length > 0)
                    {
                        w.Line(fill);
                    }

                    // The kernel gets a copy on this stack frame and the result is copied back: an emulated
                    // kernel copies stack memory directly, while memory it cannot vouch for (a field
                    // of a heap object) would cost it a checked copy per access.
                    w.Line($"{type} local = arg;")
                        .Line($"Errno errno = IoctlResult.ToErrno(_seam.Ioctl(_fd, {request}, (nint)(&local)));")
                        .Line("arg = local;")
                        .Line("return errno;")
                        .Close();
                    w.Line();
                    Header(w, summary, $"<paramref name=\"arg\"/> is {direction}. Throws <see cref=\"IoctlException\"/> on failure.", spec.AbsentFrom);
                    w.Open($"public void {spec.MethodName}(ref {type} arg)")
                        .Line($"Errno errno = Try{spec.MethodName}(ref arg);")
                        .Line(throwLine)
                        .Close();
                    if (spec.HasFlexibleArray || spec.HasCapabilities)
                    {
                        BufferOverloads(w, spec, type, request, summary, throwLine);
                    }

                    if (spec.HasCapabilities)
                    {
                        w.Line();
                        Header(w, summary, "Grows the buffer until the kernel's argsz fits and returns the struct with its capability chain. Dispose the result.", spec.AbsentFrom);
                        w.Line($"public CapabilityBuffer<{type}> {spec.MethodName}WithCapabilities(in {type} arg) =>");
                        w.Line($"    ArgszQuery.Run(_seam, _fd, {request}, \"{name}\", \"{kind}\", in arg);");
                    }

                    break;

                case IoctlArgKind.Value:
                    Header(w, summary, "<paramref name=\"value\"/> is the ioctl argument itself; <paramref name=\"result\"/> receives the ioctl's return value.", spec.AbsentFrom);
                    w.Open($"public Errno Try{spec.MethodName}(nint value, out int result)")
                        .Line($"result = _seam.Ioctl(_fd, {request}, value);")
                        .Line("return IoctlResult.ToErrno(result);")
                        .Close();
                    w.Line();
                    Throwing(w, spec, summary, throwLine, "nint value", "value, ");
                    break;

                case IoctlArgKind.IntPointer:
                    Header(w, summary, $"<paramref name=\"value\"/> is {direction}; <paramref name=\"result\"/> receives the ioctl's return value.", spec.AbsentFrom);
                    w.Open($"public Errno Try{spec.MethodName}(ref int value, out int result)")
                        .Open("fixed (int* p = &value)")
                        .Line($"result = _seam.Ioctl(_fd, {request}, (nint)p);")
                        .Close()
                        .Line("return IoctlResult.ToErrno(result);")
                        .Close();
                    w.Line();
                    Throwing(w, spec, summary, throwLine, "ref int value", "ref value, ");
                    break;

                case IoctlArgKind.String:
                    Header(w, summary, "<paramref name=\"nulTerminatedUtf8\"/> must end with a NUL byte; <paramref name=\"result\"/> receives the ioctl's return value.", spec.AbsentFrom);
                    w.Open($"public Errno Try{spec.MethodName}(ReadOnlySpan<byte> nulTerminatedUtf8, out int result)")
                        .Open("if (nulTerminatedUtf8.IsEmpty || nulTerminatedUtf8[^1] != 0)")
                        .Line("throw new ArgumentException(\"the string must end with a NUL byte\", nameof(nulTerminatedUtf8));")
                        .Close()
                        .Line()
                        .Open("fixed (byte* p = nulTerminatedUtf8)")
                        .Line($"result = _seam.Ioctl(_fd, {request}, (nint)p);")
                        .Close()
                        .Line("return IoctlResult.ToErrno(result);")
                        .Close();
                    w.Line();
                    Throwing(w, spec, summary, throwLine, "ReadOnlySpan<byte> nulTerminatedUtf8", "nulTerminatedUtf8, ");
                    w.Line();
                    Header(w, summary, "<paramref name=\"name\"/> is passed as NUL-terminated UTF-8 (at most 255 bytes); returns the ioctl's return value.", spec.AbsentFrom);
                    w.Open($"public int {spec.MethodName}(string name)")
                        .Line("ArgumentNullException.ThrowIfNull(name);")
                        .Line("Span<byte> utf8 = stackalloc byte[256];")
                        .Open("if (!System.Text.Encoding.UTF8.TryGetBytes(name, utf8[..^1], out int length))")
                        .Line("throw new ArgumentException(\"the name is longer than 255 UTF-8 bytes\", nameof(name));")
                        .Close()
                        .Line()
                        .Line("utf8[length] = 0;")
                        .Line($"return {spec.MethodName}(utf8[..(length + 1)]);")
                        .Close();
                    break;

                case IoctlArgKind.Pointer:
                    string pointee = ioctl.ArgumentType!.Kind == TypeKind.Pointer ? "nint" : TypeMapper.Field(ioctl.ArgumentType);
                    Header(w, summary, $"<paramref name=\"value\"/> ({ioctl.ArgumentType.Spelling}) is {direction}; <paramref name=\"result\"/> receives the ioctl's return value.", spec.AbsentFrom);
                    w.Line("[MethodImpl(MethodImplOptions.AggressiveInlining)]");
                    w.Open($"public Errno Try{spec.MethodName}(ref {pointee} value, out int result)")
                        .Line($"{pointee} local = value;")
                        .Line($"result = _seam.Ioctl(_fd, {request}, (nint)(&local));")
                        .Line("value = local;")
                        .Line("return IoctlResult.ToErrno(result);")
                        .Close();
                    w.Line();
                    Throwing(w, spec, summary, throwLine, $"ref {pointee} value", "ref value, ");
                    break;

                default:
                    Header(w, summary, "Takes no argument; <paramref name=\"result\"/> receives the ioctl's return value.", spec.AbsentFrom);
                    w.Open($"public Errno Try{spec.MethodName}(out int result)")
                        .Line($"result = _seam.Ioctl(_fd, {request}, 0);")
                        .Line("return IoctlResult.ToErrno(result);")
                        .Close();
                    w.Line();
                    Throwing(w, spec, summary, throwLine, string.Empty, string.Empty);
                    if (ioctl.EncodedDirection == IoctlDirection.None && ioctl.Source == IoctlSource.Encoding)
                    {
                        // The encoding of _IO says nothing of the argument, and many _IO ioctls take one
                        // (a value: KVM_CREATE_VCPU; a pointer: FIGETBSZ). It goes to the kernel as is.
                        w.Line();
                        Header(w, summary, "<paramref name=\"arg\"/> goes to the kernel as the ioctl's argument, a value or an address, as the handler reads it; <paramref name=\"result\"/> receives the return value.", spec.AbsentFrom);
                        w.Open($"public Errno Try{spec.MethodName}(nint arg, out int result)")
                            .Line($"result = _seam.Ioctl(_fd, {request}, arg);")
                            .Line("return IoctlResult.ToErrno(result);")
                            .Close();
                        w.Line();
                        Throwing(w, spec, summary, throwLine, "nint arg", "arg, ");
                    }

                    break;
            }
        }

        private static void BufferOverloads(SourceWriter w, IoctlSpec spec, string type, string request, string summary, string throwLine)
        {
            w.Line();
            Header(w, summary, $"<paramref name=\"buffer\"/> holds the struct followed by its variable-length part; {spec.SizeField ?? "its size field"} is set to the buffer's length.", spec.AbsentFrom);
            w.Open($"public Errno Try{spec.MethodName}(Span<byte> buffer)");
            w.Line($"ref {type} arg = ref {type}.FromBuffer(buffer);");
            if (spec.SizeField is not null)
            {
                w.Line($"arg.{spec.SizeField} = checked((uint)buffer.Length);");
            }

            w.Open("fixed (byte* p = buffer)")
                .Line($"return IoctlResult.ToErrno(_seam.Ioctl(_fd, {request}, (nint)p));")
                .Close()
                .Close();
            w.Line();
            Header(w, summary, "The buffer form; throws <see cref=\"IoctlException\"/> on failure.", spec.AbsentFrom);
            w.Open($"public void {spec.MethodName}(Span<byte> buffer)")
                .Line($"Errno errno = Try{spec.MethodName}(buffer);")
                .Line(throwLine)
                .Close();
        }

        /// <summary>The throwing form of a <c>TryX(..., out int result)</c> method: the return value, or an <c>IoctlException</c>.</summary>
        private static void Throwing(SourceWriter w, IoctlSpec spec, string summary, string throwLine, string parameters, string arguments)
        {
            Header(w, summary, "Returns the ioctl's return value; throws <see cref=\"IoctlException\"/> on failure.", spec.AbsentFrom);
            w.Open($"public int {spec.MethodName}({parameters})")
                .Line($"Errno errno = Try{spec.MethodName}({arguments}out int result);")
                .Line(throwLine)
                .Line("return result;")
                .Close();
        }

        private static void Header(SourceWriter w, string summary, string remarks, string? absentFrom)
        {
            Doc(w, "summary", summary);
            w.Line($"/// <remarks>{remarks}{AbsentRemark(absentFrom)}</remarks>");
            Absent(w, absentFrom);
        }
    }
}
