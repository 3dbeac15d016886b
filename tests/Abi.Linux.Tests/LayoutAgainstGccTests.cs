using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Abi.Headers;
using Abi.Headers.Packages;
using Abi.Headers.Tests;
using Abi.Model;

namespace Abi.Linux.Tests;

/// <summary>
/// The generated structs as the runtime lays them out, against gcc over the same headers: the
/// runtime's size of every struct and of every field's type, and every field's offset.
/// </summary>
public sealed class LayoutAgainstGccTests
{
    private static readonly Assembly s_bindings = typeof(iommu_ioas_map).Assembly;

    [Fact]
    public void EveryGeneratedStruct_HasGccsSizeOffsetsAndFieldSizes()
    {
        AbiModel model = ModelFile.Read(Path.Combine(Repo.Root, "Abi", "Models", LinuxHeaderSet.ModelFileName("7.2")));
        FetchedHeaders headers = new HeaderFetcher(HeaderCache.Default(), _ => { }).Fetch(HeaderProfile.Linux72);
        Dictionary<string, string> gcc = GccProbe.Run(model, headers.IncludeDirectories("x86_64-linux-gnu"))
            .Select(l => l.Split(' '))
            .Where(p => p[0] is "R" or "F" or "Z")
            .ToDictionary(p => $"{p[0]} {p[1]}", p => p[2]);

        var checkedStructs = new SortedSet<string>(StringComparer.Ordinal);
        int checkedFields = 0;
        foreach (Type type in GeneratedStructs())
        {
            Assert.Equal(gcc[$"R {type.Name}"], SizeOf(type).ToString(CultureInfo.InvariantCulture));
            foreach (FieldInfo field in type.GetFields(BindingFlags.Instance | BindingFlags.Public))
            {
                int offset = field.GetCustomAttribute<FieldOffsetAttribute>()!.Value;
                Assert.True(gcc[$"F {type.Name}.{field.Name}"] == offset.ToString(CultureInfo.InvariantCulture), $"{type.Name}.{field.Name} offset {offset}, gcc {gcc[$"F {type.Name}.{field.Name}"]}");
                Assert.True(gcc[$"Z {type.Name}.{field.Name}"] == SizeOf(field.FieldType).ToString(CultureInfo.InvariantCulture), $"{type.Name}.{field.Name} size {SizeOf(field.FieldType)}, gcc {gcc[$"Z {type.Name}.{field.Name}"]}");
                checkedFields++;
            }

            checkedStructs.Add(type.Name);
        }

        // Nothing left unchecked: every record of the model is a generated struct, and every
        // non-flexible field was compared (flexible arrays have no field; they have helpers).
        Assert.Equal(new SortedSet<string>(model.Records.Select(r => r.Name), StringComparer.Ordinal), checkedStructs);
        Assert.Equal(model.Records.Sum(r => r.Fields.Count(f => !f.Type.IsFlexibleArray)), checkedFields);
    }

    [Fact]
    public void AnonymousUnionMembers_Overlap_AndFlexibleArraysHaveHelpers()
    {
        Assert.Equal(24, Marshal.OffsetOf<iommu_hw_info>(nameof(iommu_hw_info.in_data_type)).ToInt32());
        Assert.Equal(24, Marshal.OffsetOf<iommu_hw_info>(nameof(iommu_hw_info.out_data_type)).ToInt32());
        var info = new iommu_hw_info { out_data_type = 7 };
        Assert.Equal(7u, info.in_data_type);

        Assert.Equal(20, vfio_irq_set.DataOffset);
        Assert.Equal(28, vfio_irq_set.SizeWithData(2 * sizeof(int)));
        Assert.Equal(20, vfio_irq_set.SizeWithData(0));
        Span<byte> buffer = stackalloc byte[28];
        vfio_irq_set.GetData(buffer).Fill(0xAB);
        Assert.Equal(0, buffer[19]);
        Assert.Equal(0xAB, buffer[20]);
        Assert.Equal(16, vfio_region_info_cap_sparse_mmap.SizeWithAreas(0));
        Assert.Equal(16 + 32, vfio_region_info_cap_sparse_mmap.SizeWithAreas(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => vfio_irq_set.SizeWithData(-1));
    }

    private static IEnumerable<Type> GeneratedStructs() =>
        s_bindings.GetTypes().Where(t => t.IsValueType && !t.IsEnum && t.Namespace == "Abi.Linux" && t.StructLayoutAttribute?.Value == LayoutKind.Explicit);

    private static int SizeOf(Type type) => type.IsPointer
        ? IntPtr.Size
        : (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;
}
