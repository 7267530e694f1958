using System.Globalization;

namespace Tern.Http;

/// <summary>
/// Serves the files under a directory, read from disk on each request (so edits show up at once). Each file is read
/// whole into memory: meant for the pages, scripts and images of a site, not for large downloads.
/// </summary>
public sealed class DirectoryFileSource : IStaticFileSource
{
    private static readonly StringComparison s_pathComparison =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    private readonly string _root;

    /// <summary>Serves the files under <paramref name="rootDirectory"/> (relative paths are resolved against the current directory now).</summary>
    public DirectoryFileSource(string rootDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(rootDirectory);
        _root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(rootDirectory)) + Path.DirectorySeparatorChar;
    }

    /// <summary>The full path of the directory served, ending with a separator.</summary>
    public string RootDirectory => _root;

    /// <inheritdoc/>
    public async ValueTask<StaticFile?> GetFileAsync(string relativePath, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(relativePath);
        string fullPath = Path.GetFullPath(Path.Join(_root, relativePath.Replace('/', Path.DirectorySeparatorChar)));

        // The responder already refuses every path that could climb out; this guards sources used on their own.
        if (!fullPath.StartsWith(_root, s_pathComparison))
        {
            return null;
        }

        var info = new FileInfo(fullPath);
        if (!info.Exists)
        {
            return null;
        }

        try
        {
            byte[] content = await File.ReadAllBytesAsync(fullPath, cancellationToken).ConfigureAwait(false);
            DateTime lastWrite = info.LastWriteTimeUtc;

            // Modification time and length change with every ordinary edit, and cost nothing to compute (nginx does the same).
            string etag = string.Create(CultureInfo.InvariantCulture, $"\"{lastWrite.Ticks:x}-{content.Length:x}\"");
            return new StaticFile(content, new DateTimeOffset(lastWrite, TimeSpan.Zero), etag);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            // Deleted since it was looked at, or not readable by this process: to the client it is simply not there.
            return null;
        }
    }
}
