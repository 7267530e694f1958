using System.Globalization;
using System.Text;
using Tern.Http;

namespace Tern.Tests.Http;

public sealed class StaticFileResponderPathTests
{
    [Theory]
    [InlineData("/", "")]
    [InlineData("/index.html", "index.html")]
    [InlineData("/css/site.css", "css/site.css")]
    [InlineData("/docs/", "docs/")]
    [InlineData("/a%20b.txt", "a b.txt")]
    [InlineData("/caf%C3%A9.txt", "café.txt")]
    [InlineData("/app.js?v=3", "app.js")]
    [InlineData("/app.js#top", "app.js")]
    [InlineData("/%252e%252e", "%2e%2e")] // decoded once: a file literally named "%2e%2e"
    [InlineData("/file..txt", "file..txt")]
    [InlineData("/a+b.txt", "a+b.txt")]
    public void Accepts_ordinary_paths(string requestPath, string expected)
    {
        Assert.Equal(StaticFileResponder.PathCheck.Valid, StaticFileResponder.ToRelativePath(requestPath, out string relative));
        Assert.Equal(expected, relative);
    }

    [Theory]
    [InlineData("")]
    [InlineData("*")]
    [InlineData("index.html")]
    [InlineData("http://example.com/index.html")]
    [InlineData("C:/Windows/win.ini")]
    [InlineData("//etc/passwd")]
    [InlineData("/a//b")]
    [InlineData("/..")]
    [InlineData("/../etc/passwd")]
    [InlineData("/css/../../etc/passwd")]
    [InlineData("/.")]
    [InlineData("/./index.html")]
    [InlineData("/%2e%2e/etc/passwd")]
    [InlineData("/%2E%2E/etc/passwd")]
    [InlineData("/.%2e/etc/passwd")]
    [InlineData("/%2e./etc/passwd")]
    [InlineData("/%2e")]
    [InlineData("/css%2f..%2f..%2fetc%2fpasswd")]
    [InlineData("/..%2Fetc%2Fpasswd")]
    [InlineData("/%2fetc%2fpasswd")]
    [InlineData("/..%5cwindows%5cwin.ini")]
    [InlineData("/..\\windows\\win.ini")]
    [InlineData("/css\\site.css")]
    [InlineData("/C:/Windows/win.ini")]
    [InlineData("/c%3a%5cwindows")]
    [InlineData("/index.html::$DATA")]
    [InlineData("/index.html%00.png")]
    [InlineData("/index.html\0.png")]
    [InlineData("/a%0d%0aSet-Cookie:x=1")]
    [InlineData("/index.html.")]
    [InlineData("/index.html%20")]
    [InlineData("/%")]
    [InlineData("/%2")]
    [InlineData("/%zz")]
    [InlineData("/%+1")]
    [InlineData("/%c0%ae%c0%ae/etc/passwd")] // overlong UTF-8 for "..": invalid UTF-8
    [InlineData("/%ff.txt")]
    public void Refuses_traversal_absolute_and_malformed_paths(string requestPath)
    {
        Assert.Equal(StaticFileResponder.PathCheck.Invalid, StaticFileResponder.ToRelativePath(requestPath, out _));
    }

    [Theory]
    [InlineData("/.env")]
    [InlineData("/.git/config")]
    [InlineData("/css/.htpasswd")]
    [InlineData("/%2egit/config")]
    public void Hides_dot_files(string requestPath)
    {
        Assert.Equal(StaticFileResponder.PathCheck.Hidden, StaticFileResponder.ToRelativePath(requestPath, out _));
    }
}

public sealed class StaticFileResponderTests : IDisposable
{
    private const string IndexHtml = "<!doctype html><title>home</title>";
    private const string Secret = "the secret outside the site";

    private readonly string _parent;
    private readonly string _root;
    private readonly StaticFileResponder _responder;

    public StaticFileResponderTests()
    {
        _parent = Path.Combine(Path.GetTempPath(), "tern-static-" + Guid.NewGuid().ToString("N"));
        _root = Path.Combine(_parent, "site");
        Directory.CreateDirectory(Path.Combine(_root, "docs"));
        Directory.CreateDirectory(Path.Combine(_root, "css"));
        File.WriteAllText(Path.Combine(_parent, "secret.txt"), Secret);
        Write("index.html", IndexHtml);
        Write("docs/index.html", "<p>docs</p>");
        Write("css/site.css", "body{}");
        Write(".env", "PASSWORD=x");
        foreach (string name in new[] { "app.js", "mod.mjs", "data.json", "logo.svg", "logo.png", "favicon.ico", "notes.txt", "site.webmanifest", "font.woff2", "blob.bin", "README" })
        {
            Write(name, "x");
        }

        _responder = StaticFileResponder.FromDirectory(_root);
    }

    public void Dispose() => Directory.Delete(_parent, recursive: true);

    [Fact]
    public async Task Serves_the_default_document_for_the_root()
    {
        HttpResponse response = await _responder.GetResponseAsync("GET", "/");

        Assert.Equal(200, response.StatusCode);
        Assert.Equal(IndexHtml, Encoding.UTF8.GetString(response.Body.Span));
        Assert.Equal("text/html; charset=utf-8", Header(response, "Content-Type"));
        Assert.Equal("no-cache", Header(response, "Cache-Control"));
        Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
        Assert.StartsWith("\"", Header(response, "ETag"));
        Assert.EndsWith(" GMT", Header(response, "Last-Modified"));
    }

    [Fact]
    public async Task Head_gets_the_same_headers_and_body_length_as_get()
    {
        HttpResponse get = await _responder.GetResponseAsync("GET", "/css/site.css");
        HttpResponse head = await _responder.GetResponseAsync("HEAD", "/css/site.css");

        Assert.Equal(200, head.StatusCode);
        Assert.Equal(get.Body.Length, head.Body.Length);
        Assert.Equal(get.Headers, head.Headers);
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("OPTIONS")]
    [InlineData("get")] // methods are case-sensitive
    public async Task Other_methods_get_405_with_allow(string method)
    {
        HttpResponse response = await _responder.GetResponseAsync(method, "/index.html");

        Assert.Equal(405, response.StatusCode);
        Assert.Equal("GET, HEAD", Header(response, "Allow"));
    }

    [Theory]
    [InlineData("/index.html", "text/html; charset=utf-8")]
    [InlineData("/css/site.css", "text/css; charset=utf-8")]
    [InlineData("/app.js", "text/javascript; charset=utf-8")]
    [InlineData("/mod.mjs", "text/javascript; charset=utf-8")]
    [InlineData("/data.json", "application/json; charset=utf-8")]
    [InlineData("/logo.svg", "image/svg+xml")]
    [InlineData("/logo.png", "image/png")]
    [InlineData("/favicon.ico", "image/x-icon")]
    [InlineData("/notes.txt", "text/plain; charset=utf-8")]
    [InlineData("/site.webmanifest", "application/manifest+json; charset=utf-8")]
    [InlineData("/font.woff2", "font/woff2")]
    [InlineData("/blob.bin", "application/octet-stream")]
    [InlineData("/README", "application/octet-stream")]
    public async Task Content_type_follows_the_extension(string path, string contentType)
    {
        HttpResponse response = await _responder.GetResponseAsync("GET", path);

        Assert.Equal(200, response.StatusCode);
        Assert.Equal(contentType, Header(response, "Content-Type"));
    }

    [Theory]
    [InlineData("/missing.html")]
    [InlineData("/css/missing.css")]
    [InlineData("/missing/")]
    [InlineData("/.env")]
    public async Task Missing_and_hidden_files_get_404(string path)
    {
        HttpResponse response = await _responder.GetResponseAsync("GET", path);

        Assert.Equal(404, response.StatusCode);
    }

    [Theory]
    [InlineData("/../secret.txt")]
    [InlineData("/%2e%2e/secret.txt")]
    [InlineData("/%2E%2e%2Fsecret.txt")]
    [InlineData("/css/..%2f..%2fsecret.txt")]
    [InlineData("/..%5csecret.txt")]
    [InlineData("/..\\secret.txt")]
    [InlineData("//tmp/secret.txt")]
    [InlineData("/secret.txt%00.html")]
    public async Task Traversal_attempts_get_400_and_never_the_file(string path)
    {
        HttpResponse response = await _responder.GetResponseAsync("GET", path);

        Assert.Equal(400, response.StatusCode);
        Assert.DoesNotContain(Secret, Encoding.UTF8.GetString(response.Body.Span), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_absolute_file_system_path_is_not_served()
    {
        string absolute = Path.Combine(_parent, "secret.txt").Replace('\\', '/');
        HttpResponse response = await _responder.GetResponseAsync("GET", "/" + absolute);

        Assert.NotEqual(200, response.StatusCode);
    }

    [Fact]
    public async Task The_directory_source_refuses_to_climb_out_on_its_own()
    {
        var source = new DirectoryFileSource(_root);

        Assert.Null(await source.GetFileAsync("../secret.txt"));
        Assert.NotNull(await source.GetFileAsync("css/site.css"));
    }

    [Fact]
    public async Task A_directory_without_its_slash_is_redirected()
    {
        HttpResponse response = await _responder.GetResponseAsync("GET", "/docs?x=1");

        Assert.Equal(301, response.StatusCode);
        Assert.Equal("/docs/", Header(response, "Location"));
        HttpResponse index = await _responder.GetResponseAsync("GET", "/docs/");
        Assert.Equal("<p>docs</p>", Encoding.UTF8.GetString(index.Body.Span));
    }

    [Theory]
    [InlineData("{0}")]
    [InlineData("W/{0}")]
    [InlineData("\"other\", {0}")]
    [InlineData("*")]
    public async Task A_matching_if_none_match_gets_304(string template)
    {
        HttpResponse first = await _responder.GetResponseAsync("GET", "/index.html");
        string etag = Header(first, "ETag");

        HttpResponse response = await _responder.GetResponseAsync("GET", "/index.html", ifNoneMatch: string.Format(CultureInfo.InvariantCulture, template, etag));

        Assert.Equal(304, response.StatusCode);
        Assert.True(response.Body.IsEmpty);
        Assert.Equal(etag, Header(response, "ETag"));
        Assert.Equal("no-cache", Header(response, "Cache-Control"));
    }

    [Fact]
    public async Task A_different_if_none_match_gets_the_file_even_with_a_later_if_modified_since()
    {
        string future = DateTimeOffset.UtcNow.AddDays(1).ToString("r", CultureInfo.InvariantCulture);

        HttpResponse response = await _responder.GetResponseAsync("GET", "/index.html", ifNoneMatch: "\"stale\"", ifModifiedSince: future);

        Assert.Equal(200, response.StatusCode);
        Assert.Equal(IndexHtml, Encoding.UTF8.GetString(response.Body.Span));
    }

    [Fact]
    public async Task If_modified_since_compares_whole_seconds()
    {
        HttpResponse first = await _responder.GetResponseAsync("GET", "/index.html");
        string lastModified = Header(first, "Last-Modified");
        DateTimeOffset time = DateTimeOffset.ParseExact(lastModified, "r", CultureInfo.InvariantCulture);

        Assert.Equal(304, (await _responder.GetResponseAsync("GET", "/index.html", ifModifiedSince: lastModified)).StatusCode);
        Assert.Equal(304, (await _responder.GetResponseAsync("HEAD", "/index.html", ifModifiedSince: time.AddHours(1).ToString("r", CultureInfo.InvariantCulture))).StatusCode);
        Assert.Equal(200, (await _responder.GetResponseAsync("GET", "/index.html", ifModifiedSince: time.AddSeconds(-1).ToString("r", CultureInfo.InvariantCulture))).StatusCode);
        Assert.Equal(200, (await _responder.GetResponseAsync("GET", "/index.html", ifModifiedSince: "yesterday")).StatusCode);
    }

    [Fact]
    public async Task Editing_a_file_changes_its_validators()
    {
        HttpResponse before = await _responder.GetResponseAsync("GET", "/notes.txt");
        string path = Path.Combine(_root, "notes.txt");
        File.WriteAllText(path, "changed");
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(1));

        HttpResponse after = await _responder.GetResponseAsync("GET", "/notes.txt", ifNoneMatch: Header(before, "ETag"), ifModifiedSince: Header(before, "Last-Modified"));

        Assert.Equal(200, after.StatusCode);
        Assert.Equal("changed", Encoding.UTF8.GetString(after.Body.Span));
        Assert.NotEqual(Header(before, "ETag"), Header(after, "ETag"));
    }

    [Fact]
    public async Task Options_change_the_default_document_cache_control_and_types()
    {
        Write("home.page", "home");
        var options = new StaticFileResponderOptions { DefaultDocument = "home.page", CacheControl = "public, max-age=60" };
        options.ContentTypes[".page"] = "text/x-page";
        var responder = StaticFileResponder.FromDirectory(_root, options);

        HttpResponse response = await responder.GetResponseAsync("GET", "/");

        Assert.Equal("home", Encoding.UTF8.GetString(response.Body.Span));
        Assert.Equal("text/x-page", Header(response, "Content-Type"));
        Assert.Equal("public, max-age=60", Header(response, "Cache-Control"));
    }

    [Fact]
    public async Task Embedded_resources_are_served_by_their_logical_path()
    {
        var responder = StaticFileResponder.FromEmbeddedResources(typeof(StaticFileResponderTests).Assembly, "site/");

        HttpResponse index = await responder.GetResponseAsync("GET", "/");
        HttpResponse css = await responder.GetResponseAsync("GET", "/css/site.css");
        HttpResponse missing = await responder.GetResponseAsync("GET", "/css/other.css");
        HttpResponse revalidated = await StaticFileResponder.FromEmbeddedResources(typeof(StaticFileResponderTests).Assembly, "site/")
            .GetResponseAsync("GET", "/css/site.css", ifNoneMatch: Header(css, "ETag"));

        Assert.Equal(200, index.StatusCode);
        Assert.Contains("<title>embedded</title>", Encoding.UTF8.GetString(index.Body.Span), StringComparison.Ordinal);
        Assert.Equal("text/css; charset=utf-8", Header(css, "Content-Type"));
        Assert.Equal("body { color: teal; }\n", Encoding.UTF8.GetString(css.Body.Span));
        Assert.Equal(404, missing.StatusCode);
        Assert.Equal(304, revalidated.StatusCode); // the tag is a content hash, stable across instances
    }

    [Fact]
    public void The_embedded_source_lists_only_resources_under_its_prefix()
    {
        var source = new EmbeddedResourceFileSource(typeof(StaticFileResponderTests).Assembly, "site/");

        Assert.Equal(["css/site.css", "index.html"], source.Paths.Order(StringComparer.Ordinal));
    }

    private void Write(string relativePath, string content) => File.WriteAllText(Path.Combine(_root, relativePath), content);

    private static string Header(HttpResponse response, string name) =>
        Assert.Single(response.Headers, h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value;
}
