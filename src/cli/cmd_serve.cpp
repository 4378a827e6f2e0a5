#include "cli/commands.h"
#include "serve/server.h"

namespace unmark::cli {

Command add_serve_command(CLI::App& app, const GlobalOptions&) {
  auto* sub = app.add_subcommand("serve", "Run the job service: REST API, durable queue, storage");
  auto o = std::make_shared<serve::ServeOptions>();
  sub->add_option("--host", o->host, "Address to listen on")->default_val("127.0.0.1")->envname("UNMARK_HOST");
  sub->add_option("--port", o->port, "Port (0: any free port)")->default_val(8080)->check(CLI::Range(0, 65535))->envname("UNMARK_PORT");
  sub->add_option("--port-file", o->port_file, "Write the port here once listening");
  sub->add_option("--data", o->data_dir, "Directory for the job database, uploads and results")
      ->default_val("unmark-data")
      ->envname("UNMARK_DATA");
  sub->add_option("--token", o->token, "Bearer token every route but /health requires")->envname("UNMARK_API_TOKEN");
  sub->add_option("--concurrency", o->concurrency, "Jobs run at once (0: a quarter of the cores, at least 1)")
      ->default_val(0)
      ->check(CLI::Range(0, 64))
      ->envname("UNMARK_CONCURRENCY");
  sub->add_option("--job-timeout", o->job_timeout_s, "Seconds a job may run before it fails (0: no limit)")
      ->default_val(0)
      ->check(CLI::Range(0.0, 1e7));
  sub->add_option("--max-attempts", o->max_attempts, "Times a job is started before a crash mid-job fails it")
      ->default_val(3)
      ->check(CLI::Range(1, 100));
  sub->add_option("--keep-hours", o->keep_hours, "Finished jobs and their files are deleted after this")
      ->default_val(24)
      ->check(CLI::Range(0.0, 1e6));
  sub->add_option_function<double>(
         "--max-upload-mb", [o](double mb) { o->max_upload_bytes = int64_t(mb * 1024 * 1024); },
         "Largest upload in MiB (larger: 413)")
      ->default_val(2048)
      ->check(CLI::Range(0.001, 1e7));
  sub->add_option("--max-queued", o->max_queued, "Queued jobs beyond which a submit gets 429")
      ->default_val(1000)
      ->check(CLI::Range(1, 10000000));
  sub->add_option("--allow-dir", o->allow_dirs, "A directory file:// sources and targets may use (repeatable)")
      ->check(CLI::ExistingDirectory);
  sub->add_flag("--allow-private-urls", o->allow_private_urls,
                "Let http(s) sources and a job's S3 endpoint reach loopback, private and link-local addresses");
  // S3: the environment's AWS_* settings, which these options override.
  o->s3 = serve::s3_options_from_environment();
  sub->add_option("--s3-endpoint", o->s3.endpoint,
                  "S3-compatible endpoint, e.g. http://127.0.0.1:9000 (default: AWS, or AWS_ENDPOINT_URL_S3)");
  sub->add_option("--s3-region", o->s3.region, "S3 region (default: AWS_REGION, else us-east-1)");
  sub->add_flag("--s3-path-style,!--s3-virtual-host", o->s3.path_style,
                "Address objects as endpoint/bucket/key (MinIO) instead of bucket.endpoint/key");
  sub->add_option("--presign-ttl", o->s3.presign_ttl_s, "Seconds a result's presigned S3 URL stays valid")
      ->check(CLI::Range(1, 604800));
  sub->add_option_function<double>(
         "--s3-part-mb", [o](double mb) { o->s3.part_bytes = int64_t(mb * 1024 * 1024); },
         "Results above this many MiB are uploaded to S3 in parts of this size (at least 5)")
      ->check(CLI::Range(5.0, 5000.0));
  return [o] {
    serve::Server server(*o);
    server.bind();
    server.run(g_cancel);
    return 0;
  };
}

}  // namespace unmark::cli
