namespace Tern.Http;

/// <summary>Settings of a <see cref="StaticFileResponder"/>.</summary>
public sealed class StaticFileResponderOptions
{
    /// <summary>The file served for a path that ends with '/' (the site root included). Default <c>index.html</c>.</summary>
    public string DefaultDocument { get; set; } = "index.html";

    /// <summary>
    /// The Cache-Control header of every file response. Default <c>no-cache</c>: browsers keep the file but check
    /// with the server before each use, which costs one small request and a 304, and never shows a stale page after
    /// a deploy. Use for example <c>public, max-age=31536000, immutable</c> for files whose names change with their content.
    /// </summary>
    public string CacheControl { get; set; } = "no-cache";

    /// <summary>
    /// Content types by file extension (with the dot, case-insensitive). Preset with the common web types; add or
    /// replace entries as needed.
    /// </summary>
    public IDictionary<string, string> ContentTypes { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".htm"] = "text/html; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".mjs"] = "text/javascript; charset=utf-8",
        [".json"] = "application/json; charset=utf-8",
        [".map"] = "application/json; charset=utf-8",
        [".webmanifest"] = "application/manifest+json; charset=utf-8",
        [".txt"] = "text/plain; charset=utf-8",
        [".md"] = "text/markdown; charset=utf-8",
        [".csv"] = "text/csv; charset=utf-8",
        [".xml"] = "application/xml; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".png"] = "image/png",
        [".jpg"] = "image/jpeg",
        [".jpeg"] = "image/jpeg",
        [".gif"] = "image/gif",
        [".webp"] = "image/webp",
        [".avif"] = "image/avif",
        [".ico"] = "image/x-icon",
        [".woff2"] = "font/woff2",
        [".woff"] = "font/woff",
        [".ttf"] = "font/ttf",
        [".otf"] = "font/otf",
        [".wasm"] = "application/wasm",
        [".pdf"] = "application/pdf",
        [".mp3"] = "audio/mpeg",
        [".ogg"] = "audio/ogg",
        [".wav"] = "audio/wav",
        [".mp4"] = "video/mp4",
        [".webm"] = "video/webm",
        [".zip"] = "application/zip",
    };

    /// <summary>The content type of files whose extension is not in <see cref="ContentTypes"/>. Default <c>application/octet-stream</c>.</summary>
    public string DefaultContentType { get; set; } = "application/octet-stream";
}
