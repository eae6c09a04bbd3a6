# What the Python tests share.
import os


def init_gst(Gst, build_dir, element=None,
             registry="test-python-registry.bin"):
    """Gst.init with the plugins of @build_dir and @registry there;
    False, after printing FAIL, when @element is not among them."""
    os.environ["GST_PLUGIN_PATH_1_0"] = build_dir
    os.environ["GST_REGISTRY_1_0"] = os.path.join(build_dir, registry)
    Gst.init(None)
    if element and Gst.ElementFactory.find(element) is None:
        print("FAIL: no %s in GST_PLUGIN_PATH_1_0=%s" % (element, build_dir))
        return False
    return True
