namespace Tern.Tests.TestSupport;

/// <summary>Finds files of the repository from the test's output directory.</summary>
internal static class RepositoryPaths
{
    private static readonly Lazy<string> s_root = new(() =>
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Tern.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"Tern.slnx not found above {AppContext.BaseDirectory}.");
    });

    /// <summary>The repository's root directory (where Tern.slnx is).</summary>
    public static string Root => s_root.Value;

    public static string Combine(params string[] parts) => Path.Combine([Root, .. parts]);
}
