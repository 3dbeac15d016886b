namespace Abi.Generators.Model;

/// <summary>What a model file is for, from its <c>AbiRole</c> item metadata.</summary>
internal enum ModelRole
{
    /// <summary>Bindings are emitted from it.</summary>
    Primary,

    /// <summary>An older profile; members it lacks are marked in the primary model's bindings.</summary>
    Baseline,
}
