using Abi.Engine.Iommufd;
using Abi.Interop;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Selftest;

/// <summary>
/// The fd IOMMU_TEST_CMD's CREATE_ACCESS returns: an access object driven from user space, as an
/// emulated device driver would drive it, plus the page ranges it pinned (items). When an unmap
/// covers pinned pages the items there are unpinned and forgotten, as the selftest driver does.
/// Closing the fd destroys the access.
/// </summary>
internal sealed class SelftestAccessFile : EngineFile
{
    private readonly IommufdFile _context;
    private readonly List<(uint Id, ulong Iova, ulong Length)> _items = [];
    private uint _nextItem;

    public SelftestAccessFile(IommufdFile context, bool needsPinPages)
    {
        _context = context;
        NeedsPinPages = needsPinPages;
        Access = context.CreateAccess(Unmapped, needsPinPages);
    }

    public override string Name => "[iommufd_test_staccess]";

    // iommufd_test_create_access: an anonymous inode.
    public override bool NoExec => true;

    public AccessObject Access { get; }

    public bool NeedsPinPages { get; }

    public uint AddItem(ulong iova, ulong length)
    {
        lock (_items)
        {
            uint id = _nextItem++;
            _items.Add((id, iova, length));
            return id;
        }
    }

    public int DestroyItem(uint id)
    {
        (uint Id, ulong Iova, ulong Length) item;
        lock (_items)
        {
            int index = _items.FindIndex(i => i.Id == id);
            if (index < 0)
            {
                return Fail(Errno.ENOENT, $"the access has no pinned item {id}");
            }

            item = _items[index];
            _items.RemoveAt(index);
        }

        Access.Unpin(item.Iova, item.Length);
        return 0;
    }

    private void Unmapped(ulong iova, ulong length)
    {
        ulong last = iova + (length - 1);
        var hit = new List<(uint Id, ulong Iova, ulong Length)>();
        lock (_items)
        {
            for (int i = _items.Count - 1; i >= 0; i--)
            {
                if (_items[i].Iova <= last && iova <= _items[i].Iova + (_items[i].Length - 1))
                {
                    hit.Add(_items[i]);
                    _items.RemoveAt(i);
                }
            }
        }

        foreach ((_, ulong itemIova, ulong itemLength) in hit)
        {
            Access.Unpin(itemIova, itemLength);
        }
    }

    public override void Release() => _context.DestroyAccess(Access);
}
