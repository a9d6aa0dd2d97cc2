// Neo4jMain starts an embedded Neo4j Community DBMS with only its Bolt connector on loopback. It is
// run as a single-file source program (java -cp 'lib/*' Neo4jMain.java HOME PORT [PASSWORD]), so
// no javac step and no jar of ours. It prints "NEO4J_READY bolt://127.0.0.1:PORT" once the default
// database answers a query, and shuts the DBMS down cleanly on SIGTERM.
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;

public class Neo4jMain {
  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: Neo4jMain HOME_DIR BOLT_PORT [PASSWORD]");
      System.exit(2);
    }
    Path home = Path.of(args[0]);
    int port = Integer.parseInt(args[1]);
    String password = args.length > 2 ? args[2] : null; // null: authentication disabled
    DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
        .setConfig(BoltConnector.enabled, true)
        .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
        .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
        .setConfig(HttpConnector.enabled, false)
        .setConfig(GraphDatabaseSettings.auth_enabled, password != null)
        .setConfig(GraphDatabaseSettings.pagecache_memory, 64L * 1024 * 1024)
        .build();
    Runtime.getRuntime().addShutdownHook(new Thread(dbms::shutdown));
    if (password != null) {
      // The neo4j user exists from the start; Neo4j wants 8 characters at least.
      dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME).executeTransactionally(
          "ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED", java.util.Map.of("pw", password));
    }
    dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME).executeTransactionally("RETURN 1");
    System.out.println("NEO4J_READY bolt://127.0.0.1:" + port);
    System.out.flush();
    new CountDownLatch(1).await();
  }
}
