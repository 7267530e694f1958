namespace Tern.Http;

/// <summary>
/// Where <see cref="StaticFileResponder"/> finds its files: a directory (<see cref="DirectoryFileSource"/>), an
/// assembly's embedded resources (<see cref="EmbeddedResourceFileSource"/>), or anything else that can look a file up
/// by a relative path.
/// </summary>
public interface IStaticFileSource
{
    /// <summary>Looks a file up; returns null when there is no such file.</summary>
    /// <param name="relativePath">
    /// A path relative to the site's root, with '/' between segments, for example <c>css/site.css</c>. The responder
    /// has already checked it: it is not empty, and no segment is empty, "." or "..", starts with '.', or contains '/',
    /// '\', ':', NUL or another control character.
    /// </param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    ValueTask<StaticFile?> GetFileAsync(string relativePath, CancellationToken cancellationToken = default);
}

/// <summary>A file to serve: its content and the validators that let clients cache it.</summary>
/// <param name="Content">The whole file.</param>
/// <param name="LastModified">When the file last changed (sent as Last-Modified, compared with If-Modified-Since).</param>
/// <param name="ETag">
/// A strong entity tag, quotes included (for example <c>"5f3a-1c2"</c>), that changes whenever the content changes.
/// </param>
public sealed record StaticFile(ReadOnlyMemory<byte> Content, DateTimeOffset LastModified, string ETag);
