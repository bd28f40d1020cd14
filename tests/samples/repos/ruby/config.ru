VERSION = File.read(File.join(__dir__, "version.txt")).strip
run ->(env) { [200, {"content-type" => "text/plain"}, ["hello from ruby #{VERSION} (rack #{Rack.release})\n"]] }
