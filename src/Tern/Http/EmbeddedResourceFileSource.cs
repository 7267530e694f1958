using System.Collections.Concurrent;
using System.Reflection;
using System.Security.Cryptography;

namespace Tern.Http;

/// <summary>
/// Serves files embedded in an assembly, so an application's pages ship inside its DLL and work from any working
/// directory.
/// </summary>
/// <remarks>
/// The default resource names of MSBuild replace '/' with '.', which makes <c>a.b/c.js</c> and <c>a/b.c.js</c>
/// indistinguishable, so embed the files with a logical name that keeps the path:
/// <code>
/// &lt;EmbeddedResource Include="wwwroot/**" LogicalName="wwwroot/%(RecursiveDir)%(Filename)%(Extension)" /&gt;
/// </code>
/// and pass the same prefix (<c>"wwwroot/"</c>) to the constructor. Backslashes in names (MSBuild on Windows writes
/// them in <c>%(RecursiveDir)</c>) are read as '/'. Matching is case-sensitive. Content is read once and kept.
/// </remarks>
public sealed class EmbeddedResourceFileSource : IStaticFileSource
{
    private readonly Assembly _assembly;
    private readonly Dictionary<string, string> _resourceNamesByPath = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StaticFile> _loaded = new(StringComparer.Ordinal);
    private readonly DateTimeOffset _lastModified;

    /// <summary>Serves the resources of <paramref name="assembly"/> whose names start with <paramref name="resourcePrefix"/>.</summary>
    /// <param name="assembly">The assembly holding the resources.</param>
    /// <param name="resourcePrefix">The part of the names before the site-relative path, for example <c>"wwwroot/"</c>.</param>
    public EmbeddedResourceFileSource(Assembly assembly, string resourcePrefix)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        ArgumentNullException.ThrowIfNull(resourcePrefix);
        _assembly = assembly;
        string prefix = resourcePrefix.Replace('\\', '/');
        foreach (string name in assembly.GetManifestResourceNames())
        {
            string path = name.Replace('\\', '/');
            if (path.StartsWith(prefix, StringComparison.Ordinal) && path.Length > prefix.Length)
            {
                _resourceNamesByPath[path[prefix.Length..]] = name;
            }
        }

        _lastModified = GetBuildTime(assembly);
    }

    /// <summary>The site-relative paths of the files served, for diagnostics.</summary>
    public IEnumerable<string> Paths => _resourceNamesByPath.Keys;

    /// <inheritdoc/>
    public ValueTask<StaticFile?> GetFileAsync(string relativePath, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(relativePath);
        if (_loaded.TryGetValue(relativePath, out StaticFile? cached))
        {
            return ValueTask.FromResult<StaticFile?>(cached);
        }

        if (!_resourceNamesByPath.TryGetValue(relativePath, out string? resourceName))
        {
            return ValueTask.FromResult<StaticFile?>(null);
        }

        using Stream stream = _assembly.GetManifestResourceStream(resourceName)
            ?? throw new InvalidOperationException($"The resource '{resourceName}' is listed by the assembly but cannot be opened.");
        byte[] content = new byte[stream.Length];
        stream.ReadExactly(content);

        // Resources never change while the process runs, so a content hash is a stable tag across restarts and builds.
        string etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(content), 0, 8) + "\"";
        StaticFile file = _loaded.GetOrAdd(relativePath, new StaticFile(content, _lastModified, etag));
        return ValueTask.FromResult<StaticFile?>(file);
    }

    private static DateTimeOffset GetBuildTime(Assembly assembly)
    {
        // The assembly file's time is when the resources last changed; single-file apps have no file, and then the
        // start time is the honest answer (the ETag still lets clients revalidate cheaply).
        DateTime time = !string.IsNullOrEmpty(assembly.Location) && File.Exists(assembly.Location)
            ? File.GetLastWriteTimeUtc(assembly.Location)
            : DateTime.UtcNow;
        return new DateTimeOffset(time.Ticks - (time.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
    }
}
