// Starts Apache JMeter 2.13 (Debian's jmeter package) in non-GUI mode with its plan loader working.
//
// Debian builds JMeter 2.13 against its current XStream (1.4.20), whose security framework
// refuses every class it was not told about; JMeter 2.13 predates that and tells it nothing, so
// loading any .jmx fails with ForbiddenClassException: org.apache.jmeter.save.ScriptWrapper.
// This launcher loads JMeter's properties, lets SaveService build its two XStream instances,
// allows them JMeter's own classes (and nothing else), then hands the arguments to JMeter.
//
//   java -cp <this dir>:<jmeter>/bin/ApacheJMeter.jar:<jmeter>/lib/*:<jmeter>/lib/ext/* \
//        -Djmeter.home=<jmeter> MailbenchJMeter -n -t plan.jmx -l results.jtl
import java.lang.reflect.Field;
import java.lang.reflect.Method;

public final class MailbenchJMeter {
  private MailbenchJMeter() {}

  public static void main(String[] args) throws Exception {
    String home = System.getProperty("jmeter.home");
    if (home == null) throw new IllegalStateException("set -Djmeter.home to JMeter's installation folder");
    Class<?> utils = Class.forName("org.apache.jmeter.util.JMeterUtils");
    utils.getMethod("setJMeterHome", String.class).invoke(null, home);
    utils.getMethod("loadJMeterProperties", String.class).invoke(null, home + "/bin/jmeter.properties");
    Class<?> saveService = Class.forName("org.apache.jmeter.save.SaveService", true, MailbenchJMeter.class.getClassLoader());
    for (String name : new String[] {"JMXSAVER", "JTLSAVER"}) {
      Field field = saveService.getDeclaredField(name);
      field.setAccessible(true);
      Object xstream = field.get(null);
      Method allow = xstream.getClass().getMethod("allowTypesByWildcard", String[].class);
      allow.invoke(xstream, (Object) new String[] {"org.apache.jmeter.**", "org.apache.jorphan.**"});
    }
    Object jmeter = Class.forName("org.apache.jmeter.JMeter").getDeclaredConstructor().newInstance();
    jmeter.getClass().getMethod("start", String[].class).invoke(jmeter, (Object) args);
  }
}
